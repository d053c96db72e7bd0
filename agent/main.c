/* margo-agent: the device's management client. Command line, configuration precedence
 * (flag > config file > default) and exit codes; the work is in the other files. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "agent.h"
#include "config.h"
#include "margo/file.h"
#include "margo/log.h"
#include "margo/token.h"
#include "margo/validate.h"
#include "discover_cmd.h"
#include "onboard.h"
#include "probe.h"
#include "run.h"
#include "status.h"

#define TOKEN_FILE_MAX 4096
#define DISCOVER_TIMEOUT_MS 2000

static const char usage_main[] =
	"usage: margo-agent COMMAND [OPTIONS]\n"
	"\n"
	"The Margo device management client: onboards the device with a Workload Fleet Manager\n"
	"(WFM), then keeps its access token and capability report current, fetches its desired\n"
	"state over Git, applies it through apply_command and reports deployment status.\n"
	"\n"
	"commands:\n"
	"  onboard        establish trust, onboard the device, report capabilities\n"
	"  run            the polling loop: tokens, capabilities, desired state (--once: one cycle)\n"
	"  status         onboarding state, last contact, next poll (--json)\n"
	"  capabilities   print the probed DeviceCapabilities document\n"
	"  discover       list the WFMs announced on the local link or in a DNS domain\n"
	"\n"
	"options of every command:\n"
	"  --config FILE      configuration file (default " AGENT_DEFAULT_CONFIG ")\n"
	"  --state-dir DIR    state directory (default " AGENT_DEFAULT_STATE_DIR ")\n"
	"  --log-level LEVEL  error, warn, info or debug\n"
	"  --help, --version\n"
	"\n"
	"Run 'margo-agent COMMAND --help' for a command's options and examples.\n";

static const char usage_onboard[] =
	"usage: margo-agent onboard (--url URL | --discover [--discover-name NAME] [--domain D])\n"
	"         (--ca-fingerprint sha256:HEX | --enrollment-token-file FILE | --trust-on-first-use)\n"
	"         [--key FILE --cert FILE] [--wait SECONDS]\n"
	"         [--vendor S] [--model S] [--serial S] [--state-dir DIR] [--config FILE]\n"
	"\n"
	"Downloads the WFM root CA, checks it against the pin, creates the device key (or takes a\n"
	"provisioned one), sends the signed onboarding request and, when the WFM asks the operator\n"
	"first, waits for the decision. The enrollment token is read from FILE or from the\n"
	"environment variable MARGO_ENROLLMENT_TOKEN (never from the command line). Without a pin,\n"
	"the token alone authenticates the WFM: the WFM proves it knew the token when it issued it\n"
	"(a CA MAC keyed by the token); a man in the middle cannot.\n"
	"\n"
	"  --url URL                  WFM root URL (config: url)\n"
	"  --discover                 find the WFM with DNS-SD instead (see 'discover --help');\n"
	"                             what is announced is unauthenticated: a pin, the token or\n"
	"                             --trust-on-first-use (which then checks the announced pin)\n"
	"                             is still required\n"
	"  --discover-name NAME       the WFM to use when several answer\n"
	"  --domain D, --nameserver IP[:PORT], --timeout SECONDS   as for discover\n"
	"  --ca-fingerprint PIN       sha256:<64 hex> printed by 'wfmd fingerprint' (config: ca_fingerprint)\n"
	"  --trust-on-first-use       accept the CA the server presents and print its fingerprint\n"
	"  --enrollment-token-file F  file holding the wfmet_... enrollment token\n"
	"  --key FILE --cert FILE     manufacturer-provisioned key and certificate (PEM)\n"
	"  --wait SECONDS             give up waiting for approval after SECONDS (default: wait);\n"
	"                             running onboard again resumes the same request\n"
	"  --vendor, --model, --serial  device identity shown to the operator\n"
	"\n"
	"examples:\n"
	"  margo-agent onboard --url https://wfm.example:8443 --ca-fingerprint sha256:3f...\n"
	"  MARGO_ENROLLMENT_TOKEN=$(cat token) margo-agent onboard --url https://10.0.0.5:8443 \\\n"
	"      --ca-fingerprint sha256:3f... --wait 600\n"
	"  margo-agent onboard --url https://wfm.lab:8443 --trust-on-first-use --enrollment-token-file /run/token\n"
	"  margo-agent onboard --discover --enrollment-token-file /run/token   # the one secret\n";

static const char usage_discover[] =
	"usage: margo-agent discover [--domain DOMAIN] [--nameserver IP[:PORT]] [--timeout SECONDS]\n"
	"         [--json]\n"
	"\n"
	"Lists the WFMs that announce the DNS-SD service _margo-wfm._tcp: without --domain by a\n"
	"one-shot multicast DNS query on every interface (no avahi-daemon needed), with --domain\n"
	"by unicast DNS (PTR, SRV, TXT) to the first nameserver of /etc/resolv.conf or the one\n"
	"given. Answers are collected for --timeout seconds (default 2). Shown for each: name, URL\n"
	"and the CA pin it announces. Nothing in DNS-SD is authenticated: the pin is a hint to\n"
	"compare with the one the WFM's operator gives you ('wfmd fingerprint'). Exits 0 when at\n"
	"least one WFM answered, 1 when none did.\n"
	"\n"
	"examples:\n"
	"  margo-agent discover\n"
	"  margo-agent discover --domain example.com --json\n";

static const char usage_run[] =
	"usage: margo-agent run [--once] [--state-dir DIR] [--config FILE] [--log-level LEVEL]\n"
	"\n"
	"Polls the WFM every poll_interval within poll_hours, never during downtime: keeps the\n"
	"access token fresh and re-reports capabilities when the probed document changes.\n"
	"Failures back off with jitter and the loop never gives up. SIGTERM/SIGINT stop it after\n"
	"the current request. --once runs one cycle (none during downtime or outside poll_hours)\n"
	"and exits 0 when it succeeded.\n"
	"\n"
	"examples:\n"
	"  margo-agent run\n"
	"  margo-agent run --once --config /etc/margo-agent/agent.conf\n";

static const char usage_status[] =
	"usage: margo-agent status [--json] [--state-dir DIR] [--config FILE]\n"
	"\n"
	"Shows onboarding state, client id, WFM URL, CA fingerprint, token expiry, last successful\n"
	"contact, last capability report and next poll. Exits 0 when onboarded, 6 when not.\n"
	"\n"
	"examples:\n"
	"  margo-agent status\n"
	"  margo-agent status --json | jq -r .clientId\n";

static const char usage_capabilities[] =
	"usage: margo-agent capabilities [--state-dir DIR] [--config FILE]\n"
	"\n"
	"Prints the DeviceCapabilities document the agent reports, probed from /proc, /sys,\n"
	"uname and statvfs, with the vendor/model_number/serial_number/roles overrides of the\n"
	"config file. MARGO_AGENT_PROBE_ROOT (or probe_root) reads /proc and /sys below another\n"
	"directory.\n"
	"\n"
	"example:\n"
	"  margo-agent capabilities\n";

enum {
	OPT_CONFIG = 256, OPT_STATE_DIR, OPT_LOG_LEVEL, OPT_HELP, OPT_URL, OPT_PIN, OPT_TOFU,
	OPT_TOKEN, OPT_TOKEN_FILE, OPT_KEY, OPT_CERT, OPT_WAIT, OPT_VENDOR, OPT_MODEL,
	OPT_SERIAL, OPT_ONCE, OPT_JSON, OPT_VERSION, OPT_DISCOVER, OPT_DISCOVER_NAME, OPT_DOMAIN,
	OPT_NAMESERVER, OPT_TIMEOUT,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "url", required_argument, NULL, OPT_URL },
	{ "ca-fingerprint", required_argument, NULL, OPT_PIN },
	{ "trust-on-first-use", no_argument, NULL, OPT_TOFU },
	{ "enrollment-token", required_argument, NULL, OPT_TOKEN },
	{ "enrollment-token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "vendor", required_argument, NULL, OPT_VENDOR },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "discover", no_argument, NULL, OPT_DISCOVER },
	{ "discover-name", required_argument, NULL, OPT_DISCOVER_NAME },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "nameserver", required_argument, NULL, OPT_NAMESERVER },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

enum command { CMD_ONBOARD, CMD_RUN, CMD_STATUS, CMD_CAPABILITIES, CMD_DISCOVER };

static const struct {
	const char *name;
	const char *usage;
	const int *allowed; /* command-specific options, 0-terminated */
} commands[] = {
	[CMD_ONBOARD] = { "onboard", usage_onboard, (const int[]){ OPT_URL, OPT_PIN, OPT_TOFU,
		OPT_TOKEN, OPT_TOKEN_FILE, OPT_KEY, OPT_CERT, OPT_WAIT, OPT_VENDOR, OPT_MODEL,
		OPT_SERIAL, OPT_DISCOVER, OPT_DISCOVER_NAME, OPT_DOMAIN, OPT_NAMESERVER, OPT_TIMEOUT,
		0 } },
	[CMD_RUN] = { "run", usage_run, (const int[]){ OPT_ONCE, 0 } },
	[CMD_STATUS] = { "status", usage_status, (const int[]){ OPT_JSON, 0 } },
	[CMD_CAPABILITIES] = { "capabilities", usage_capabilities, (const int[]){ 0 } },
	[CMD_DISCOVER] = { "discover", usage_discover, (const int[]){ OPT_DOMAIN, OPT_NAMESERVER,
		OPT_TIMEOUT, OPT_JSON, 0 } },
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int fail(int code, const char *msg)
{
	fprintf(stderr, "margo-agent: %s\n", msg);
	return code;
}

/* Reads the enrollment token from a file (first line, trimmed). Newly allocated secret. */
static int read_token_file(const char *path, char **out, struct margo_error *err)
{
	char *data = NULL, *s, *e;
	size_t len;
	int rc;

	rc = margo_file_read(path, TOKEN_FILE_MAX, &data, &len, err);
	if (rc != 0)
		return margo_error_set(err, rc, "enrollment token file %s: %s", path,
				       rc == MARGO_ENOTFOUND ? "no such file" : err->message);
	for (s = data; isspace((unsigned char)*s); s++)
		;
	for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
		;
	*e = '\0';
	if (*s == '\0') {
		margo_secret_free(data);
		return margo_error_set(err, MARGO_EINVAL, "enrollment token file %s is empty", path);
	}
	*out = strdup(s);
	OPENSSL_cleanse(data, len);
	free(data);
	return *out != NULL ? MARGO_OK : margo_error_set(err, MARGO_ENOMEM, "out of memory");
}

/* Seconds, fractions allowed, to milliseconds. */
static int parse_timeout(const char *s, int *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= 0.1 && v <= 60))
		return -1;
	*ms = (int)(v * 1000);
	return 0;
}

static int cmd_capabilities(const struct agent_config *cfg)
{
	struct agent_probe_options po;
	struct agent_state st;
	struct margo_validation v;
	struct margo_error e;
	json_t *doc = NULL;
	char *text;
	int code = AGENT_EXIT_OK;

	agent_probe_options_from_config(&po, cfg);
	if (agent_state_load(cfg->state_dir, &st, &e) == 0) {
		po.device_id = st.device_id;
		agent_probe_options_from_state(&po, st.vendor, st.model_number, st.serial_number);
	}
	if (agent_probe_capabilities(&po, &doc, &e) != 0) {
		code = fail(AGENT_EXIT_FAILURE, e.message);
		goto out;
	}
	text = json_dumps(doc, JSON_INDENT(2));
	if (text == NULL) {
		code = fail(AGENT_EXIT_FAILURE, "out of memory");
		goto out;
	}
	printf("%s\n", text);
	free(text);
	margo_validation_init(&v);
	if (margo_capabilities_validate(doc, &v) != 0) {
		fprintf(stderr, "margo-agent: probed document is invalid: %s: %s\n",
			v.count > 0 ? v.errors[0].field : "?", v.count > 0 ? v.errors[0].message : "?");
		code = AGENT_EXIT_FAILURE;
	}
out:
	json_decref(doc);
	agent_state_free(&st);
	return code;
}

int main(int argc, char **argv)
{
	struct agent_config cfg;
	struct agent_onboard_options oo = { 0 };
	struct margo_error err;
	const char *config_path = NULL, *state_dir = NULL, *log_level = NULL;
	const char *url = NULL, *pin = NULL, *token_file = NULL;
	char *token = NULL;
	struct agent_discover_options dopts = { .timeout_ms = DISCOVER_TIMEOUT_MS };
	struct agent_discover_choice dchoice = { 0 };
	int discover = 0;
	int cmd = -1, json = 0, once = 0, code = AGENT_EXIT_USAGE, opt;
	struct sigaction sa;

	margo_error_clear(&err);
	if (agent_tls_init(&err) != 0)
		return fail(AGENT_EXIT_FAILURE, err.message);
	if (argc < 2)
		return fputs(usage_main, stderr), AGENT_EXIT_USAGE;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return fputs(usage_main, stdout), AGENT_EXIT_OK;
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
		return printf("margo-agent %s\n", MARGO_VERSION), AGENT_EXIT_OK;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = (int)i;
	if (cmd < 0) {
		fprintf(stderr, "margo-agent: unknown command '%s' (onboard, run, status, capabilities, discover; see --help)\n",
			argv[1]);
		return AGENT_EXIT_USAGE;
	}
	if (agent_config_init(&cfg) != 0)
		return fail(AGENT_EXIT_FAILURE, "out of memory");
	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		int allowed = opt == OPT_CONFIG || opt == OPT_STATE_DIR || opt == OPT_LOG_LEVEL ||
			      opt == OPT_HELP || opt == OPT_VERSION;

		for (const int *a = commands[cmd].allowed; !allowed && *a != 0; a++)
			allowed = *a == opt;
		if (opt == '?' || opt == ':' || !allowed) {
			const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

			if (opt == '?' && optopt != 0)
				fprintf(stderr, "margo-agent %s: option %s %s (see margo-agent %s --help)\n",
					commands[cmd].name, bad,
					strchr(bad, '=') != NULL ? "takes no value" : "needs a value",
					commands[cmd].name);
			else
				fprintf(stderr, "margo-agent %s: unknown option %s (see margo-agent %s --help)\n",
					commands[cmd].name, bad, commands[cmd].name);
			goto out;
		}
		switch (opt) {
		case OPT_HELP:
			fputs(commands[cmd].usage, stdout);
			code = AGENT_EXIT_OK;
			goto out;
		case OPT_VERSION:
			printf("margo-agent %s\n", MARGO_VERSION);
			code = AGENT_EXIT_OK;
			goto out;
		case OPT_CONFIG: config_path = optarg; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case OPT_LOG_LEVEL: log_level = optarg; break;
		case OPT_URL: url = optarg; break;
		case OPT_PIN: pin = optarg; break;
		case OPT_TOFU: oo.tofu = 1; break;
		case OPT_TOKEN:
			fail(AGENT_EXIT_USAGE, "--enrollment-token would expose the secret in the process list; use --enrollment-token-file FILE or the MARGO_ENROLLMENT_TOKEN environment variable");
			goto out;
		case OPT_TOKEN_FILE: token_file = optarg; break;
		case OPT_KEY: oo.key_path = optarg; break;
		case OPT_CERT: oo.cert_path = optarg; break;
		case OPT_WAIT: {
			char *end;

			oo.wait_s = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || oo.wait_s < 0) {
				fail(AGENT_EXIT_USAGE, "--wait takes a number of seconds");
				goto out;
			}
			break;
		}
		case OPT_VENDOR: oo.vendor = optarg; break;
		case OPT_MODEL: oo.model_number = optarg; break;
		case OPT_SERIAL: oo.serial_number = optarg; break;
		case OPT_ONCE: once = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_DISCOVER: discover = 1; break;
		case OPT_DISCOVER_NAME: dchoice.name = optarg; break;
		case OPT_DOMAIN: dopts.domain = optarg; break;
		case OPT_NAMESERVER: dopts.nameserver = optarg; break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &dopts.timeout_ms) != 0) {
				fail(AGENT_EXIT_USAGE, "--timeout takes a number of seconds from 0.1 to 60");
				goto out;
			}
			break;
		}
	}
	if (discover && url != NULL) {
		fail(AGENT_EXIT_USAGE, "--discover finds the URL: give it or --url, not both");
		goto out;
	}
	if (!discover && (dchoice.name != NULL || (cmd == CMD_ONBOARD && (dopts.domain != NULL ||
	    dopts.nameserver != NULL)))) {
		fail(AGENT_EXIT_USAGE, "--discover-name, --domain and --nameserver go with --discover");
		goto out;
	}
	if (optind < argc) {
		fprintf(stderr, "margo-agent %s: unexpected argument '%s'\n", commands[cmd].name,
			argv[optind]);
		goto out;
	}

	/* default < config file < flags */
	if (agent_config_load(&cfg, config_path != NULL ? config_path : AGENT_DEFAULT_CONFIG,
			      config_path == NULL, &err) != 0) {
		fail(AGENT_EXIT_USAGE, err.message);
		goto out;
	}
	if ((state_dir != NULL && agent_config_set(&cfg, "state_dir", state_dir, &err) != 0) ||
	    (log_level != NULL && agent_config_set(&cfg, "log_level", log_level, &err) != 0) ||
	    (url != NULL && agent_config_set(&cfg, "url", url, &err) != 0) ||
	    (pin != NULL && agent_config_set(&cfg, "ca_fingerprint", pin, &err) != 0)) {
		char msg[MARGO_ERROR_MSG_MAX + 8];

		snprintf(msg, sizeof(msg), "--%s", err.message);
		for (char *p = msg; *p != '\0' && *p != ':'; p++)
			if (*p == '_')
				*p = '-';
		fail(AGENT_EXIT_USAGE, msg);
		goto out;
	}
	margo_log_set_level(cfg.log_level);

	signal(SIGPIPE, SIG_IGN);

	switch (cmd) {
	case CMD_ONBOARD:
		/* SIGINT/SIGTERM end the approval wait (the pending request stays saved); `run`
		 * takes them synchronously itself */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		if (token_file != NULL) {
			if (read_token_file(token_file, &token, &err) != 0) {
				fail(AGENT_EXIT_USAGE, err.message);
				goto out;
			}
		} else if (getenv("MARGO_ENROLLMENT_TOKEN") != NULL &&
			   getenv("MARGO_ENROLLMENT_TOKEN")[0] != '\0') {
			token = strdup(getenv("MARGO_ENROLLMENT_TOKEN"));
			if (token == NULL) {
				fail(AGENT_EXIT_FAILURE, "out of memory");
				goto out;
			}
		}
		oo.enrollment_token = token;
		oo.stop = &stop_flag;
		if (discover) {
			dchoice.tofu = oo.tofu;
			dchoice.have_token = token != NULL;
			code = agent_discover_choose(&cfg, &dopts, &dchoice, &err);
			if (code != AGENT_EXIT_OK)
				break;
		}
		code = agent_onboard(&cfg, &oo, &err);
		break;
	case CMD_RUN:
		code = agent_run(&cfg, once, &err);
		break;
	case CMD_STATUS:
		code = agent_status(&cfg, json, &err);
		break;
	case CMD_CAPABILITIES:
		code = cmd_capabilities(&cfg);
		goto out;
	case CMD_DISCOVER:
		code = agent_discover_command(&dopts, json, &err);
		break;
	}
	if (code != AGENT_EXIT_OK && err.message[0] != '\0')
		fail(code, err.message);
out:
	margo_secret_free(token);
	agent_config_free(&cfg);
	return code;
}
