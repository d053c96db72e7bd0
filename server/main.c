/* wfmd: the Workload Fleet Manager web service. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "margo/error.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "advertise.h"
#include "api.h"
#include "audit.h"
#include "conf.h"
#include "datadir.h"
#include "http.h"
#include "desired.h"
#include "metrics.h"
#include "public_url.h"
#include "rollout.h"
#include "service.h"
#include "store.h"
#include "wfmd.h"

#define MAX_SANS 32
#define CONNECTION_TIMEOUT 30
#define CONNECTION_LIMIT 4096
#define PER_IP_LIMIT 512

static const char usage_text[] =
"Usage: wfmd serve --data-dir DIR [options]\n"
"       wfmd init --data-dir DIR [--public-url URL] [--san NAME]...\n"
"       wfmd fingerprint --data-dir DIR\n"
"       wfmd --help | --version\n"
"\n"
"wfmd is the margo-fleet Workload Fleet Manager: devices onboard with it over HTTPS\n"
"(certificate + RFC 9421 proof of possession), get OAuth 2.0 client credentials, and report\n"
"their capabilities and deployment status; each device's desired state is a read-only Git\n"
"repository served here (/git/<deviceId>.git); operators drive it with wfmctl.\n"
"\n"
"Commands:\n"
"  serve        Initialise DIR on first start (root CA, server certificate, admin token,\n"
"               database) and serve in the foreground until SIGTERM or SIGINT.\n"
"  init         Make DIR's keys and certificates (root CA, server certificate for\n"
"               --public-url and --san, admin token, access-token key) and exit, without a\n"
"               database: what serve's first start would make. Run it once, then copy DIR\n"
"               to every replica of one WFM so they share the CA, the server certificate\n"
"               and the token keys (docs/wfmd.md). Prints the root CA pin.\n"
"  fingerprint  Print the root CA pin (sha256:<hex>) that devices are given to trust us.\n"
"\n"
"Options for serve:\n"
"  --data-dir DIR          state directory (created 0700; see docs/wfmd.md)\n"
"  --store URL             keep the fleet's state in PostgreSQL instead of SQLite in DIR:\n"
"                          postgresql://USER@HOST[:PORT]/DBNAME (libpq's URI). No password\n"
"                          in the URL (refused): libpq reads it from ~/.pgpass or the\n"
"                          file PGPASSFILE names. DIR still holds the keys\n"
"  --listen HOST:PORT      address to listen on (default 0.0.0.0:8443; [::]:PORT for\n"
"                          IPv6; port 0 picks a free port, see DIR/public-url)\n"
"  --public-url URL        base URL devices use, e.g. https://wfm.example:8443 (default\n"
"                          https://<listen host, or localhost>:<port>); its host is added\n"
"                          to the server certificate\n"
"  --san NAME|IP           extra name in the server certificate (repeatable); the\n"
"                          certificate is reissued by the same CA when a name is new\n"
"  --access-token-ttl SEC  lifetime of OAuth access tokens (default 3600)\n"
"  --pending-max N         approval requests kept waiting at most (default 1000; more\n"
"                          get 429)\n"
"  --pending-ttl SEC       an approval request expires after SEC (default 86400)\n"
"  --git-token-ttl SEC     lifetime of git access tokens (default 3600; devices rotate\n"
"                          them through /device/{id}/git-credentials)\n"
"  --no-approval-requests  refuse devices that have neither an enrollment token nor a\n"
"                          pre-registered certificate (401) instead of queueing them\n"
"  --threads N             worker threads (default: 4 per CPU, 8 to 64)\n"
"  --max-connections-per-address N  open connections one client address may hold\n"
"                          (default 512, of 4096 in all; 0: no per-address limit).\n"
"                          Behind a TCP proxy (HAProxy) every device has the proxy's\n"
"                          address: raise it there (docs/scale-out.md)\n"
"  --poll-interval-active SEC  Margo-Poll-Interval hint for devices in the current wave\n"
"                          of a rollout (default 15; agents bound it by their own\n"
"                          poll_interval_min/max)\n"
"  --poll-interval-rest SEC    hint for every other device (default 0: none sent)\n"
"  --no-metrics            do not count requests for GET /metrics (it answers 404)\n"
"  --log-level LEVEL       error, warn, info (default) or debug; logs go to stderr\n"
"  --advertise             announce this WFM on the local link by DNS-SD\n"
"                          (_margo-wfm._tcp, through avahi-daemon; TXT: path, api and the\n"
"                          CA pin as an unauthenticated hint) for 'margo-agent discover';\n"
"                          without avahi-daemon wfmd serves on and registers once it starts\n"
"  --advertise-name NAME   DNS-SD instance name (default \"margo-fleet WFM on <hostname>\")\n"
"  --config FILE           read options from FILE first: one 'key = value' per line, the\n"
"                          keys these long options without '--' (e.g. 'listen = :8443',\n"
"                          'no-approval-requests = true'); flags beat the file. SIGHUP\n"
"                          re-reads its log-level (the package: /etc/wfmd/wfmd.conf)\n"
"\n"
"Example:\n"
"  wfmd serve --data-dir /var/lib/wfmd --listen 0.0.0.0:8443 \\\n"
"       --public-url https://wfm.example:8443 --san 192.0.2.10\n"
"  wfmd serve --data-dir /var/lib/wfmd --store postgresql://wfmd@db.example/wfmd\n"
"  wfmd fingerprint --data-dir /var/lib/wfmd   # give this pin to margo-agent\n";

struct options {
	const char *data_dir;
	const char *store_url;          /* NULL: SQLite in data_dir */
	const char *listen;
	const char *public_url;
	const char *sans[MAX_SANS];
	size_t nsans;
	long access_token_ttl;
	long pending_max;
	long pending_ttl;
	long git_token_ttl;
	int no_approval;
	long threads;
	long per_address;
	long poll_active, poll_rest;
	int no_metrics;
	int advertise;
	const char *advertise_name;
	struct wfmd_service svc;
};

static int fail(const char *fmt, const char *arg)
{
	fputs("wfmd: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Splits HOST:PORT or [V6]:PORT. */
static int split_listen(const char *s, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		hl = (size_t)(close - s - 1);
		if (hl >= hsize)
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
		if (hl >= hsize || memchr(s, ':', hl) != NULL)
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= psize ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	strcpy(port, colon + 1);
	if (host[0] == '\0')
		strcpy(host, "0.0.0.0");
	return 0;
}

/* The server certificate's extra names: every --san and the host of --public-url. Returns 0,
 * or 2 (usage) after saying why. */
static int cert_names(const struct options *o, const char **names, size_t *n, char *pub_host,
		      size_t pub_host_size)
{
	uint16_t pub_port;

	*n = 0;
	for (size_t i = 0; i < o->nsans; i++)
		names[(*n)++] = o->sans[i];
	if (o->public_url == NULL)
		return 0;
	if (public_url_split(o->public_url, pub_host, pub_host_size, &pub_port, NULL, 0) < 0)
		return fail("--public-url wants https://HOST[:PORT], got '%s'", o->public_url);
	names[(*n)++] = pub_host;
	return 0;
}

/* Makes the data directory's keys and certificates (as serve's first start would), without a
 * database: the directory to copy to every replica of one WFM (docs/wfmd.md). */
static int cmd_init(const struct options *o)
{
	struct datadir dd;
	struct margo_error err;
	const char *names[MAX_SANS + 1];
	char pub_host[256], fp[MARGO_FINGERPRINT_LEN];
	size_t nnames = 0;
	int rc = 1;

	memset(&dd, 0, sizeof(dd));
	margo_error_clear(&err);
	if ((rc = cert_names(o, names, &nnames, pub_host, sizeof(pub_host))) != 0)
		return rc;
	rc = 1;
	umask(077);
	if (datadir_open(o->data_dir, names, nnames, &dd, &err) < 0 ||
	    datadir_fingerprint(o->data_dir, fp, &err) < 0) {
		fprintf(stderr, "wfmd: data directory %s: %s\n", o->data_dir, err.message);
		goto out;
	}
	printf("Data directory %s is ready: root CA pin %s\n", o->data_dir, fp);
	rc = 0;
out:
	datadir_clear(&dd);
	return rc;
}

static int cmd_fingerprint(const struct options *o)
{
	struct margo_error err;
	char fp[MARGO_FINGERPRINT_LEN];

	margo_error_clear(&err);
	if (datadir_fingerprint(o->data_dir, fp, &err) < 0) {
		fprintf(stderr, "wfmd: %s\n", err.message);
		return 1;
	}
	printf("%s\n", fp);
	return 0;
}

/* The repositories wfmd 0.1 kept on disk (DIR/repos), moved into the store. */
static int import_repositories(const char *data_dir, store *st)
{
	struct margo_error err;
	char *dir = NULL;
	long n = 0;
	int rc;

	margo_error_clear(&err);
	if (asprintf(&dir, "%s/repos", data_dir) < 0)
		return fail("%s", "out of memory");
	rc = desired_import(st, dir, &n, &err);
	if (rc < 0)
		fprintf(stderr, "wfmd: importing %s into the database: %s\n", dir, err.message);
	free(dir);
	return rc < 0 ? 1 : 0;
}

/* This wfmd's name among several sharing one store: host and the data dir's real path. */
static char *instance_name(const char *data_dir)
{
	char host[256] = "", *real = realpath(data_dir, NULL), *name = NULL;

	gethostname(host, sizeof(host) - 1);
	if (asprintf(&name, "%s:%s", host, real != NULL ? real : data_dir) < 0)
		name = NULL;
	free(real);
	return name;
}

/* DNS-SD is a convenience: a failure to start it is a warning, never fatal. */
static struct advertise *advertise_or_warn(const struct options *o, const char *url,
					   const char *data_dir)
{
	struct advertise *adv = NULL;
	struct margo_error err;
	char fp[MARGO_FINGERPRINT_LEN];

	margo_error_clear(&err);
	if (datadir_fingerprint(data_dir, fp, &err) < 0 ||
	    advertise_start(url, fp, o->advertise_name, &adv, &err) < 0)
		margo_log_warn("not advertising", "reason=\"%s\"", err.message);
	return adv;
}

static int cmd_serve(const struct options *o)
{
	struct datadir dd;
	struct margo_error err;
	struct wfmd w;
	struct http_config hc;
	struct http_server *srv = NULL;
	struct rollout_engine *engine = NULL;
	struct advertise *adv = NULL;
	struct addrinfo hints, *ai = NULL;
	char host[256], port[16], pub_host[256];
	const char *names[MAX_SANS + 1];
	size_t nnames = 0;
	uint16_t bound = 0;
	sigset_t set;
	int sig, rc = 1, gai;

	memset(&dd, 0, sizeof(dd));
	memset(&w, 0, sizeof(w));
	margo_error_clear(&err);
	if (split_listen(o->listen, host, sizeof(host), port, sizeof(port)) < 0)
		return fail("--listen wants HOST:PORT or [IPV6]:PORT, got '%s'", o->listen);
	if ((rc = cert_names(o, names, &nnames, pub_host, sizeof(pub_host))) != 0)
		return rc;
	rc = 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(host, port, &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "wfmd: cannot resolve listen address %s: %s\n", host,
			gai_strerror(gai));
		return 1;
	}

	/* Signals are taken by sigwait below; threads started from here on inherit the mask. */
	sigemptyset(&set);
	wfmd_service_sigset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Everything wfmd creates (database, WAL, keys) is for its own user only; files meant
	 * to be shared (ca.crt, server.crt, public-url) get explicit modes. */
	umask(077);

	if (datadir_open(o->data_dir, names, nnames, &dd, &err) < 0) {
		fprintf(stderr, "wfmd: data directory %s: %s\n", o->data_dir, err.message);
		goto out;
	}
	if (store_open_url(o->store_url, dd.db_path, &w.store, &err) < 0) {
		/* The URL is not repeated: the store's message says what failed. */
		fprintf(stderr, "wfmd: database %s: %s\n",
			o->store_url != NULL ? "(--store)" : dd.db_path, err.message);
		goto out;
	}
	w.ca_pem = dd.ca_pem;
	memcpy(w.admin_token_hash, dd.admin_token_hash, sizeof(w.admin_token_hash));
	if (access_key_new(dd.access_key, &w.access_key, &err) < 0) {
		fprintf(stderr, "wfmd: %s\n", err.message);
		goto out;
	}
	w.access_token_ttl = o->access_token_ttl;
	w.pending_max = o->pending_max;
	w.pending_ttl = o->pending_ttl;
	w.allow_approval_requests = !o->no_approval;
	w.git_token_ttl = o->git_token_ttl;
	if ((rc = import_repositories(o->data_dir, w.store)) != 0)
		goto out;
	rc = 1;
	w.poll_interval_active = o->poll_active;
	w.poll_interval_rest = o->poll_rest;
	if ((w.instance = instance_name(o->data_dir)) == NULL) {
		fprintf(stderr, "wfmd: out of memory\n");
		goto out;
	}
	if (rollout_engine_start(&w, ROLLOUT_TICK_MS, &engine, &err) < 0) {
		fprintf(stderr, "wfmd: %s\n", err.message);
		goto out;
	}

	memset(&hc, 0, sizeof(hc));
	hc.addr = ai->ai_addr;
	hc.addr_len = ai->ai_addrlen;
	hc.threads = (unsigned)o->threads;
	hc.cert_pem = dd.cert_pem;
	hc.key_pem = dd.key_pem;
	hc.routes = api_routes;
	hc.nroutes = api_nroutes;
	hc.ctx = &w;
	hc.connection_timeout = CONNECTION_TIMEOUT;
	hc.connection_limit = CONNECTION_LIMIT;
	hc.per_ip_limit = (unsigned)o->per_address;
	hc.on_handled = audit_on_handled;
	if (!o->no_metrics) {
		if (metrics_init(api_routes, api_nroutes) < 0) {
			fprintf(stderr, "wfmd: out of memory\n");
			goto out;
		}
		hc.on_completed = metrics_on_completed;
	}
	if (http_server_start(&hc, &srv, &bound, &err) < 0) {
		fprintf(stderr, "wfmd: cannot listen on %s: %s\n", o->listen, err.message);
		goto out;
	}
	if (o->public_url != NULL) {
		w.public_url = strdup(o->public_url);
		if (w.public_url != NULL) {
			size_t n = strlen(w.public_url);
			while (n > 8 && w.public_url[n - 1] == '/')
				w.public_url[--n] = '\0';
		}
	} else {
		const char *h = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ?
			"localhost" : host;
		if (asprintf(&w.public_url, strchr(h, ':') != NULL ? "https://[%s]:%u" :
			     "https://%s:%u", h, (unsigned)bound) < 0)
			w.public_url = NULL;
	}
	if (w.public_url == NULL) {
		fprintf(stderr, "wfmd: out of memory\n");
		goto out;
	}
	if (datadir_write_public_url(&dd, w.public_url, &err) < 0) {
		fprintf(stderr, "wfmd: %s\n", err.message);
		goto out;
	}
	margo_log_info("listening", "url=%s port=%u threads=%ld data_dir=%s", w.public_url,
		       (unsigned)bound, o->threads, o->data_dir);
	if (o->advertise)
		adv = advertise_or_warn(o, w.public_url, o->data_dir);
	wfmd_service_ready(w.public_url);
	sig = wfmd_service_wait(&o->svc, &set);
	margo_log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	rc = 0;
out:
	advertise_stop(adv);
	http_server_stop(srv);
	rollout_engine_stop(engine);
	metrics_free();
	store_close(w.store);
	free(w.public_url);
	free(w.instance);
	access_key_free(w.access_key);
	datadir_clear(&dd);
	if (ai != NULL)
		freeaddrinfo(ai);
	if (rc == 0)
		margo_log_info("stopped", NULL);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "listen", required_argument, NULL, 'l' },
		{ "public-url", required_argument, NULL, 'u' },
		{ "san", required_argument, NULL, 's' },
		{ "access-token-ttl", required_argument, NULL, 'a' },
		{ "pending-max", required_argument, NULL, 'm' },
		{ "pending-ttl", required_argument, NULL, 't' },
		{ "no-approval-requests", no_argument, NULL, 'n' },
		{ "git-token-ttl", required_argument, NULL, 'g' },
		{ "threads", required_argument, NULL, 'j' },
		{ "max-connections-per-address", required_argument, NULL, 'I' },
		{ "poll-interval-active", required_argument, NULL, 'P' },
		{ "poll-interval-rest", required_argument, NULL, 'R' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "no-metrics", no_argument, NULL, 'M' },
		{ "advertise", no_argument, NULL, 'A' },
		{ "advertise-name", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o;
	struct margo_error err;
	enum margo_log_level level;
	const char *cmd = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	memset(&o, 0, sizeof(o));
	o.listen = "0.0.0.0:8443";
	o.per_address = PER_IP_LIMIT;
	o.access_token_ttl = WFMD_DEFAULT_ACCESS_TOKEN_TTL;
	o.pending_max = WFMD_DEFAULT_PENDING_MAX;
	o.pending_ttl = WFMD_DEFAULT_PENDING_TTL;
	o.git_token_ttl = WFMD_DEFAULT_GIT_TOKEN_TTL;
	o.poll_active = WFMD_DEFAULT_POLL_ACTIVE;
	/* Handlers block on disk (fsync, new repositories) and block every connection of their
	 * thread meanwhile: 4 per CPU, 8 to 64. */
	o.threads = ncpu > 0 ? 4 * ncpu : 8;
	o.threads = o.threads < 8 ? 8 : o.threads > 64 ? 64 : o.threads;
	margo_error_clear(&err);
	if (wfmd_conf_argv(argc, argv, longopts, &argc, &argv, &o.svc.config_path, &err) < 0)
		return fail("%s", err.message);
	o.svc.opts = longopts;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.data_dir = optarg; break;
		case 'S':
			if (store_url_check(optarg, &err) < 0)
				return fail("--store: %s", err.message);
			o.store_url = optarg;
			break;
		case 'l': o.listen = optarg; break;
		case 'u': o.public_url = optarg; break;
		case 's':
			if (o.nsans == MAX_SANS)
				return fail("at most %s --san options", "32");
			if (optarg[0] == '\0' || strpbrk(optarg, " \t/,") != NULL)
				return fail("--san wants a host name or IP address, got '%s'",
					    optarg);
			o.sans[o.nsans++] = optarg;
			break;
		case 'a':
			if (parse_long(optarg, 1, 86400 * 7, &o.access_token_ttl) < 0)
				return fail("--access-token-ttl wants 1..604800 seconds, got '%s'",
					    optarg);
			break;
		case 'm':
			if (parse_long(optarg, 0, 10000000, &o.pending_max) < 0)
				return fail("--pending-max wants 0..10000000, got '%s'", optarg);
			break;
		case 't':
			if (parse_long(optarg, 1, 86400 * 365, &o.pending_ttl) < 0)
				return fail("--pending-ttl wants 1..31536000 seconds, got '%s'",
					    optarg);
			break;
		case 'n': o.no_approval = 1; break;
		case 'M': o.no_metrics = 1; break;
		case 'A': o.advertise = 1; break;
		case 'N': o.advertise_name = optarg; o.advertise = 1; break;
		case 'C': break; /* read by wfmd_conf_argv */
		case 'g':
			if (parse_long(optarg, 1, 86400 * 7, &o.git_token_ttl) < 0)
				return fail("--git-token-ttl wants 1..604800 seconds, got '%s'",
					    optarg);
			break;
		case 'P':
		case 'R':
			if (parse_long(optarg, c == 'P' ? 1 : 0, 86400 * 7,
				       c == 'P' ? &o.poll_active : &o.poll_rest) < 0)
				return fail("--poll-interval-active/-rest want seconds up to 604800 "
					    "(rest: 0 for none), got '%s'", optarg);
			break;
		case 'j':
			if (parse_long(optarg, 1, 256, &o.threads) < 0)
				return fail("--threads wants 1..256, got '%s'", optarg);
			break;
		case 'I':
			if (parse_long(optarg, 0, CONNECTION_LIMIT, &o.per_address) < 0)
				return fail("--max-connections-per-address wants 0..4096, got '%s'",
					    optarg);
			break;
		case 'L':
			if (margo_log_level_parse(optarg, &level) < 0)
				return fail("--log-level wants error, warn, info or debug, got '%s'",
					    optarg);
			margo_log_set_level(level);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("wfmd %s\n", MARGO_VERSION);
			return 0;
		default:
			fputs("Try 'wfmd --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (optind < argc)
		return fail("unexpected argument '%s' (try 'wfmd --help')", argv[optind]);
	if (cmd == NULL) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "fingerprint") != 0 &&
	    strcmp(cmd, "init") != 0)
		return fail("unknown command '%s' (try 'wfmd --help')", cmd);
	if (o.data_dir == NULL)
		return fail("%s needs --data-dir DIR", cmd);
	if (strcmp(cmd, "fingerprint") == 0)
		return cmd_fingerprint(&o);
	if (strcmp(cmd, "init") == 0)
		return cmd_init(&o);
	return cmd_serve(&o);
}
