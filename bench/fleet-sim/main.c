/* fleet-sim: one process simulating N margo devices against a running wfmd (issue 5).
 * Each device has its own ECDSA P-256 key and self-signed certificate and its own TLS
 * connections (one libcurl handle per device visit, no shared connection or session cache);
 * C worker threads carry the visits. Phases: onboard, poll, git, status. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleet-sim.h"
#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/error.h"
#include "margo/file.h"
#include "margo/httpsig.h"
#include "margo/token.h"

#define MAX_FILE (1024 * 1024)
#define DEPLOYMENT_ID "fleet-sim-deployment"
#define DEFAULT_PHASES "onboard,poll,git,status"
#define DEFAULT_POLLS_PER_VISIT 10
#define STATUS_REPORTS 3 /* per device: Pending, Installing, Installed */
#define DEFAULT_POLL_INTERVAL 300 /* margo-agent's poll_interval */
#define DEFAULT_POLL_MIN 10       /* margo-agent's poll_interval_min */
#define DEFAULT_APPLY_DELAY 1
#define DEFAULT_START_SPREAD 10

static const char usage_text[] =
"Usage: fleet-sim --url URL --ca-file F --admin-token-file F --devices N --concurrency C\n"
"                 [--phases " DEFAULT_PHASES "] [--duration S] [--rate R]\n"
"                 [--connections device|request] [--polls-per-visit K] [--timeout S]\n"
"                 [--retries N]\n"
"                 [--state FILE] [--poll-interval S] [--poll-interval-min S]\n"
"                 [--poll-interval-max S] [--apply-delay S] [--failure-ratio R]\n"
"                 [--failure-deployment ID] [--seed N] [--start-spread S]\n"
"\n"
"Simulates N devices against a running wfmd, each with its own ECDSA P-256 key and its own\n"
"TLS connections (trusting only the CA of --ca-file, no TLS session resumption). The keys\n"
"and certificates are made before the timed phases (a device has its key before it\n"
"onboards). C worker threads carry device visits. Phases run in the order given\n"
"(default " DEFAULT_PHASES "):\n"
"  onboard  creates an auto-approve enrollment token (maxUses N) with the admin token, then\n"
"           per device: GET /onboarding/certificate, signed POST /onboarding/,\n"
"           POST /oauth2/token, POST /device/{id}/capabilities. Unit: devices.\n"
"  poll     for --duration seconds, round robin over the devices, a visit of K polls\n"
"           (--polls-per-visit) GET /device/{id}/desired-state, with If-None-Match once\n"
"           the device knows the ETag (200 first, then 304). Unit: requests.\n"
"  git      for --duration seconds, round robin over the devices, a visit of git\n"
"           operations on the device repository over smart HTTP protocol v2 (no git\n"
"           process; HTTP Basic with the OnboardingResponse git credentials): ls-remote\n"
"           (GET info/refs + POST ls-refs), then fetch (GET info/refs + POST ls-refs, and\n"
"           POST fetch for a commit the device does not have: the packfile is checked).\n"
"           A device's first visit makes ls-remote, a full fetch and a no-change fetch,\n"
"           later visits ls-remote and a no-change fetch. Unit: operations.\n"
"  status   per device, the reports of a new deployment: POST\n"
"           /device/{id}/deployment/" DEPLOYMENT_ID "/status with Pending, Installing,\n"
"           Installed. Unit: requests.\n"
"  act      for --duration seconds, or until SIGTERM/SIGINT, every device acts on its\n"
"           desired state as margo-agent does: it polls GET /device/{id}/desired-state\n"
"           on its own schedule (first polls spread over --start-spread; then the WFM's\n"
"           Margo-Poll-Interval hint within --poll-interval-min and --poll-interval-max,\n"
"           --poll-interval without a hint); when the revision moved, it fetches main\n"
"           over Git protocol v2 (have: its previous commit), reads the commit's\n"
"           deployments/<id>.yaml entries from the pack, and for each new or changed\n"
"           deployment POSTs Installing, then after --apply-delay Installed, or Failed\n"
"           for a share --failure-ratio of (device, deployment) pairs drawn from --seed\n"
"           (Removing, Removed for a deployment gone). \"act warm\" is printed once\n"
"           every device has polled; at the end an \"act\" line (polls, hints, intervals\n"
"           used, reports) and one \"act_deployment\" line per deployment. Unit: visits.\n"
"  token    per device: POST /oauth2/token, POST /device/{id}/git-credentials (fresh\n"
"           access token and git credentials). Unit: devices. Runs first by itself when\n"
"           the devices come from --state.\n"
"poll, git and status need onboard (or token) before them: in the same run, or with\n"
"--state FILE, devices onboarded by an earlier run.\n"
"Options:\n"
"  --connections device   (default) a device opens its own TLS connection for a visit and\n"
"                         reuses it for every request of the visit (keep-alive)\n"
"  --connections request  every request opens a new TCP+TLS connection (a device waking\n"
"                         up for one request)\n"
"  --polls-per-visit K    polls per device visit in the poll phase (default 10)\n"
"  --duration S           seconds of the poll, git and act phases (default 10)\n"
"  --rate R               caps device onboardings per second (onboard) or requests per\n"
"                         second (poll, git, status) over all workers (default: no cap)\n"
"  --timeout S            per-request timeout (default 30)\n"
"  --retries N            repeats a request up to N times (default 0) after a failure a\n"
"                         device retries: connection refused, reset or closed without an\n"
"                         answer, or 503 with Retry-After (waiting as it says, at most\n"
"                         10 s; otherwise 0.1 s doubling to 2 s). Repeated attempts are\n"
"                         counted as retries_connection= and retries_503= on the phase\n"
"                         line, not as errors; timeouts and other statuses are errors\n"
"  --state FILE           with onboard: afterwards writes the onboarded devices'\n"
"                         credentials to FILE (0600); without onboard: the devices are\n"
"                         read from FILE (--devices, if given, caps their number)\n"
"act phase (the device's own limits, as margo-agent's agent.conf):\n"
"  --poll-interval S      interval without a Margo-Poll-Interval hint (default 300)\n"
"  --poll-interval-min S  floor of a hinted interval (default 10)\n"
"  --poll-interval-max S  ceiling of a hinted interval (default --poll-interval)\n"
"  --apply-delay S        seconds from Installing to the final report (default 1;\n"
"                         fractions allowed; 0: at once on the same connection)\n"
"  --failure-ratio R      share 0..1 of (device, deployment) pairs reported Failed\n"
"                         (default 0); the same seed and devices fail the same way\n"
"  --failure-deployment ID  only this deployment fails (default: any)\n"
"  --seed N               seed of the failures and first-poll times (default 1)\n"
"  --start-spread S       first polls spread over S seconds (default 10)\n"
"Prints a keygen line (with onboard), a config line, then one line per phase: units\n"
"(devices, ops or requests) and units/s, errors, requests and requests/s, new connections\n"
"and their mean set-up time (TCP + TLS), p50/p90/p99/max latency of the phase's unit; then\n"
"per git operation its percentiles, per route and status the successful answers and the\n"
"errors (status 0: transport error or failed check) with their percentiles.\n"
"Exit status 0 when every request succeeded, 1 when any failed, 2 on usage errors.\n";

static json_t *parse(const struct fs_buf *b)
{
	return b->data != NULL ? json_loadb(b->data, b->len, 0, NULL) : NULL;
}

static char *json_str_dup(json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));

	return v != NULL ? strdup(v) : NULL;
}

/* ---- key generation ---- */

struct keygen {
	struct fs_sim *s;
	atomic_int failed;
};

static int device_keygen(struct fs_device *d, size_t i)
{
	struct margo_error err;
	X509 *cert = NULL;
	char *pem = NULL;
	int rc = -1;

	snprintf(d->serial, sizeof(d->serial), "fs-%d-%06zu", (int)getpid(), i);
	if (margo_key_generate_p256(&d->key, &err) != 0 ||
	    margo_cert_create_self_signed(d->key, d->serial, 365, &cert, &err) != 0)
		goto out;
	pem = margo_cert_to_pem(cert);
	if (pem == NULL || margo_cert_keyid(cert, d->keyid) != 0)
		goto out;
	d->cert_b64 = margo_base64_encode(pem, strlen(pem), MARGO_BASE64_STD);
	rc = d->cert_b64 != NULL ? 0 : -1;
out:
	free(pem);
	X509_free(cert);
	return rc;
}

static void *keygen_worker(void *arg)
{
	struct keygen *k = arg;
	size_t i;

	while ((i = atomic_fetch_add(&k->s->next, 1)) < k->s->ndev)
		if (device_keygen(&k->s->dev[i], i) != 0)
			atomic_store(&k->failed, 1);
	return NULL;
}

/* ---- onboard ---- */

struct sig_ctx {
	const char *uri;
	const char *digest;
};

static const char *sig_resolve(void *ctx, const char *name)
{
	const struct sig_ctx *c = ctx;

	if (strcmp(name, "@method") == 0)
		return "POST";
	if (strcmp(name, "@target-uri") == 0)
		return c->uri;
	if (strcmp(name, "content-digest") == 0)
		return c->digest;
	return NULL;
}

/* Appends "name: value" to *hdrs (freed and NULL on failure). */
static int header_fmt(struct curl_slist **hdrs, const char *name, const char *value)
{
	char *line = NULL;
	int rc;

	if (*hdrs == NULL || asprintf(&line, "%s: %s", name, value) < 0)
		return -1;
	rc = fs_header_add(hdrs, line);
	margo_secret_free(line);
	return rc;
}

static int onboard_signed(struct fs_sim *s, CURL *h, struct fs_device *d)
{
	static const char *const components[] = { "@method", "@target-uri", "content-digest" };
	struct curl_slist *hdrs = NULL;
	struct margo_error err;
	struct sig_ctx sc;
	struct fs_buf resp = { 0 };
	char uri[1024], *body = NULL, *digest = NULL, *sig_input = NULL, *sig = NULL;
	json_t *doc;
	int rc = -1;

	doc = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}",
			"apiVersion", "onboarding.margo.org/v1alpha1", "kind", "OnboardingRequest",
			"certificate", d->cert_b64, "enrollmentToken", s->enrollment_token,
			"device", "vendor", "margo-fleet", "modelNumber", "fleet-sim",
			"serialNumber", d->serial);
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	doc = NULL;
	snprintf(uri, sizeof(uri), "%s/onboarding/", s->url);
	digest = body != NULL ? margo_content_digest(body, strlen(body)) : NULL;
	if (digest == NULL)
		goto fail;
	sc = (struct sig_ctx){ uri, digest };
	if (margo_httpsig_sign(d->key, "sig1", components, 3, sig_resolve, &sc,
			       (int64_t)time(NULL), d->keyid, MARGO_HTTPSIG_ECDSA_P256_SHA256,
			       &sig_input, &sig, &err) != 0) {
		fprintf(stderr, "fleet-sim: signing: %s\n", err.message);
		goto fail;
	}
	if (fs_header_add(&hdrs, "Content-Type: application/json") != 0 ||
	    header_fmt(&hdrs, "Accept", "application/json") != 0 ||
	    header_fmt(&hdrs, "Content-Digest", digest) != 0 ||
	    header_fmt(&hdrs, "Signature-Input", sig_input) != 0 ||
	    header_fmt(&hdrs, "Signature", sig) != 0)
		goto fail;
	if (fs_request(s, h, &(struct fs_req){ .route = "POST /onboarding/", .method = "POST",
					       .path = "/onboarding/", .hdrs = hdrs, .body = body,
					       .body_len = strlen(body), .want = 201, .want2 = 201,
					       .resp = &resp }, NULL) != 0)
		goto out;
	doc = parse(&resp);
	d->client_id = json_str_dup(doc, "clientId");
	d->client_secret = json_str_dup(doc, "clientSecret");
	d->git_username = json_str_dup(doc, "gitUsername");
	d->git_token = json_str_dup(doc, "gitAccessToken");
	if (d->client_id != NULL && d->client_secret != NULL && d->git_username != NULL &&
	    d->git_token != NULL && strchr(d->client_id, '/') == NULL &&
	    strlen(d->client_id) < 64)
		rc = 0;
	else
		fs_stats_request(s->stats, "check: POST /onboarding/ answer without credentials",
				 0, 0, 0);
	goto out;
fail:
	fs_stats_request(s->stats, "(client: building the onboarding request)", 0, 0, 0);
out:
	json_decref(doc);
	if (body != NULL)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	free(digest);
	free(sig_input);
	free(sig);
	curl_slist_free_all(hdrs);
	fs_buf_free(&resp, 1);
	return rc;
}

static int token(struct fs_sim *s, CURL *h, struct fs_device *d)
{
	struct curl_slist *hdrs = NULL;
	struct fs_buf resp = { 0 };
	char *body = NULL, *enc_id = NULL, *enc_secret = NULL;
	json_t *doc = NULL;
	int rc = -1;

	enc_id = curl_easy_escape(h, d->client_id, 0);
	enc_secret = curl_easy_escape(h, d->client_secret, 0);
	if (fs_header_add(&hdrs, "Content-Type: application/x-www-form-urlencoded") != 0 ||
	    enc_id == NULL || enc_secret == NULL ||
	    asprintf(&body, "grant_type=client_credentials&client_id=%s&client_secret=%s",
		     enc_id, enc_secret) < 0) {
		body = NULL;
		fs_stats_request(s->stats, "(client: building the token request)", 0, 0, 0);
		goto out;
	}
	if (fs_request(s, h, &(struct fs_req){ .route = "POST /oauth2/token", .method = "POST",
					       .path = "/oauth2/token", .hdrs = hdrs, .body = body,
					       .body_len = strlen(body), .want = 200, .want2 = 200,
					       .resp = &resp }, NULL) != 0)
		goto out;
	doc = parse(&resp);
	d->access_token = json_str_dup(doc, "access_token");
	rc = d->access_token != NULL ? 0 : -1;
	if (rc != 0)
		fs_stats_request(s->stats, "check: POST /oauth2/token answer without access_token",
				 0, 0, 0);
out:
	json_decref(doc);
	margo_secret_free(body);
	if (enc_secret != NULL)
		OPENSSL_cleanse(enc_secret, strlen(enc_secret));
	curl_free(enc_secret);
	curl_free(enc_id);
	curl_slist_free_all(hdrs);
	fs_buf_free(&resp, 1);
	return rc;
}

static int capabilities(struct fs_sim *s, CURL *h, struct fs_device *d)
{
	struct curl_slist *hdrs = fs_bearer_headers(d, "Content-Type: application/json");
	char path[256], *body = NULL;
	json_t *doc;
	int rc = -1;

	doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:[s], s:{s:i, s:i, s:[{s:s, s:i, s:f}]},"
			" s:[], s:[]}}",
			"apiVersion", "device.margo/v1", "kind", "DeviceCapabilities",
			"properties", "id", d->client_id, "vendor", "margo-fleet",
			"modelNumber", "fleet-sim", "serialNumber", d->serial,
			"roles", "standalone device",
			"resources", "memory", 4, "storage", 32,
			"cpus", "architecture", "arm64", "cores", 4, "frequency", 1.5,
			"peripherals", "interfaces");
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	snprintf(path, sizeof(path), "/device/%s/capabilities", d->client_id);
	if (hdrs != NULL && body != NULL)
		rc = fs_request(s, h, &(struct fs_req){ .route = "POST /device/{id}/capabilities",
							.method = "POST", .path = path,
							.hdrs = hdrs, .body = body,
							.body_len = strlen(body), .want = 201,
							.want2 = 201 }, NULL);
	else
		fs_stats_request(s->stats, "(client: building the capabilities request)", 0, 0, 0);
	json_decref(doc);
	free(body);
	curl_slist_free_all(hdrs);
	return rc;
}

static void onboard_device(struct fs_sim *s, struct fs_device *d)
{
	struct fs_buf resp = { 0 };
	CURL *h = fs_conn_new(s);
	json_t *doc = NULL;
	double t0 = fs_now();
	int ok = 0;

	if (h == NULL) {
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		goto out;
	}
	/* A device first fetches the CA; it trusts it by pin (ours: the --ca-file). */
	if (fs_request(s, h, &(struct fs_req){ .route = "GET /onboarding/certificate",
					       .method = "GET", .path = "/onboarding/certificate",
					       .want = 200, .want2 = 200, .resp = &resp }, NULL) != 0)
		goto out;
	doc = parse(&resp);
	if (!json_is_string(json_object_get(doc, "certificate"))) {
		fs_stats_request(s->stats, "check: GET /onboarding/certificate answer", 0, 0, 0);
		goto out;
	}
	ok = onboard_signed(s, h, d) == 0 && token(s, h, d) == 0 && capabilities(s, h, d) == 0;
out:
	fs_stats_unit(s->stats, NULL, ok, (fs_now() - t0) * 1000.0);
	json_decref(doc);
	fs_buf_free(&resp, 0);
	curl_easy_cleanup(h);
}

static void *onboard_worker(void *arg)
{
	struct fs_sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev) {
		fs_pace(s, i, 0);
		onboard_device(s, &s->dev[i]);
	}
	return NULL;
}

static int create_enrollment_token(struct fs_sim *s)
{
	struct curl_slist *hdrs = NULL;
	struct fs_buf resp = { 0 };
	char *body = NULL, *auth = NULL;
	json_t *doc = NULL;
	CURL *h = fs_conn_new(s);
	int rc = -1;

	doc = json_pack("{s:i, s:I, s:b, s:s}", "ttlSeconds", 86400, "maxUses",
			(json_int_t)s->ndev, "autoApprove", 1, "description", "fleet-sim");
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	doc = NULL;
	if (fs_header_add(&hdrs, "Content-Type: application/json") != 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", s->admin_token) < 0) {
		auth = NULL;
		goto out;
	}
	if (fs_header_add(&hdrs, auth) != 0)
		goto out;
	if (h == NULL || body == NULL ||
	    fs_request(s, h, &(struct fs_req){ .route = "POST /admin/v1/enrollment-tokens",
					       .method = "POST",
					       .path = "/admin/v1/enrollment-tokens", .hdrs = hdrs,
					       .body = body, .body_len = strlen(body), .want = 201,
					       .want2 = 201, .resp = &resp }, NULL) != 0)
		goto out;
	doc = parse(&resp);
	s->enrollment_token = json_str_dup(doc, "token");
	rc = s->enrollment_token != NULL ? 0 : -1;
out:
	json_decref(doc);
	free(body);
	margo_secret_free(auth);
	curl_slist_free_all(hdrs);
	fs_buf_free(&resp, 1);
	curl_easy_cleanup(h);
	return rc;
}

/* ---- token (devices from --state) ---- */

/* POST /device/{id}/git-credentials: a new git token, as a device whose token expired. */
static int git_credentials(struct fs_sim *s, CURL *h, struct fs_device *d)
{
	struct curl_slist *hdrs = fs_bearer_headers(d, NULL);
	struct fs_buf resp = { 0 };
	char path[256];
	json_t *doc = NULL;
	char *user, *token_v;
	int rc = -1;

	snprintf(path, sizeof(path), "/device/%s/git-credentials", d->client_id);
	if (hdrs == NULL) {
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		goto out;
	}
	if (fs_request(s, h, &(struct fs_req){ .route = "POST /device/{id}/git-credentials",
					       .method = "POST", .path = path, .hdrs = hdrs,
					       .body = "", .body_len = 0, .want = 201,
					       .want2 = 201, .resp = &resp }, NULL) != 0)
		goto out;
	doc = parse(&resp);
	user = json_str_dup(doc, "gitUsername");
	token_v = json_str_dup(doc, "gitAccessToken");
	if (user == NULL || token_v == NULL) {
		free(user);
		margo_secret_free(token_v);
		fs_stats_request(s->stats, "check: git-credentials answer without credentials", 0,
				 0, 0);
		goto out;
	}
	free(d->git_username);
	margo_secret_free(d->git_token);
	d->git_username = user;
	d->git_token = token_v;
	rc = 0;
out:
	json_decref(doc);
	curl_slist_free_all(hdrs);
	fs_buf_free(&resp, 1);
	return rc;
}

static void *token_worker(void *arg)
{
	struct fs_sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev) {
		struct fs_device *d = &s->dev[i];
		CURL *h = fs_conn_new(s);
		double t0 = fs_now();
		int ok;

		fs_pace(s, i, 0);
		margo_secret_free(d->access_token);
		d->access_token = NULL;
		if (h == NULL)
			fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		ok = h != NULL && token(s, h, d) == 0 && git_credentials(s, h, d) == 0;
		fs_stats_unit(s->stats, NULL, ok, (fs_now() - t0) * 1000.0);
		curl_easy_cleanup(h);
	}
	return NULL;
}

/* ---- poll, git, status ---- */

/* One poll of a device on h; the device's ETag is kept for If-None-Match. */
static void poll_once(struct fs_sim *s, CURL *h, struct fs_device *d, const char *path)
{
	struct curl_slist *hdrs;
	char inm[320], *etag = NULL;
	long status = 0;
	double t0 = fs_now();
	int rc;

	snprintf(inm, sizeof(inm), "If-None-Match: %s", d->etag != NULL ? d->etag : "");
	hdrs = fs_bearer_headers(d, d->etag != NULL ? inm : NULL);
	if (hdrs == NULL) {
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		fs_stats_unit(s->stats, NULL, 0, 0);
		return;
	}
	rc = fs_request(s, h, &(struct fs_req){ .route = "GET /device/{id}/desired-state",
						.method = "GET", .path = path, .hdrs = hdrs,
						.want = 200, .want2 = 304, .etag = &etag }, &status);
	if (rc == 0 && status == 200 && etag != NULL) {
		free(d->etag);
		d->etag = etag;
		etag = NULL;
	}
	fs_stats_unit(s->stats, NULL, rc == 0, (fs_now() - t0) * 1000.0);
	free(etag);
	curl_slist_free_all(hdrs);
}

static void poll_visit(struct fs_sim *s, struct fs_device *d)
{
	char path[256];
	CURL *h = fs_conn_new(s);

	if (h == NULL) {
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		fs_stats_unit(s->stats, NULL, 0, 0);
		return;
	}
	snprintf(path, sizeof(path), "/device/%s/desired-state", d->client_id);
	for (unsigned k = 0; k < s->polls_per_visit && fs_now() < s->deadline; k++)
		poll_once(s, h, d, path);
	curl_easy_cleanup(h);
}

/* Round robin over the onboarded devices until --duration is over; a device busy with
 * another worker (possible when N is small) is skipped. */
static void *visit_worker(void *arg)
{
	struct fs_sim *s = arg;
	size_t i;

	while (fs_now() < s->deadline) {
		struct fs_device *d;

		int poll = strcmp(s->stats->phase, "poll") == 0;

		i = atomic_fetch_add(&s->next, 1);
		d = &s->dev[i % s->ndev];
		if (d->access_token == NULL || atomic_exchange(&d->busy, 1))
			continue;
		/* --rate: a poll visit makes K requests, a git visit 4 (7 the first time). */
		fs_pace(s, atomic_fetch_add(&s->paced, poll ? s->polls_per_visit :
					    d->git_oid[0] != '\0' ? 4 : 7), s->deadline);
		if (fs_now() < s->deadline) {
			if (poll)
				poll_visit(s, d);
			else
				fs_git_visit(s, d);
		}
		atomic_store(&d->busy, 0);
	}
	return NULL;
}

static void status_device(struct fs_sim *s, struct fs_device *d)
{
	static const char *const states[STATUS_REPORTS] = { "Pending", "Installing",
							    "Installed" };
	CURL *h = fs_conn_new(s);

	for (size_t k = 0; k < STATUS_REPORTS; k++) {
		double t0 = fs_now();
		int rc = fs_status_report(s, h, d, DEPLOYMENT_ID, states[k], NULL);

		fs_stats_unit(s->stats, NULL, rc == 0, (fs_now() - t0) * 1000.0);
		if (rc != 0)
			break;
	}
	curl_easy_cleanup(h);
}

static void *status_worker(void *arg)
{
	struct fs_sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev) {
		if (s->dev[i].access_token == NULL)
			continue;
		fs_pace(s, atomic_fetch_add(&s->paced, STATUS_REPORTS), 0);
		status_device(s, &s->dev[i]);
	}
	return NULL;
}

/* ---- driver ---- */

static int run_pool(struct fs_sim *s, unsigned n, void *(*fn)(void *), void *arg)
{
	pthread_t *t = calloc(n, sizeof(*t));
	unsigned started = 0;
	pthread_attr_t attr;

	if (t == NULL || pthread_attr_init(&attr) != 0) {
		free(t);
		return -1;
	}
	pthread_attr_setstacksize(&attr, 256 * 1024);
	atomic_store(&s->next, 0);
	atomic_store(&s->paced, 0);
	for (; started < n; started++)
		if (pthread_create(&t[started], &attr, fn, arg) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_attr_destroy(&attr);
	free(t);
	return started == n ? 0 : -1;
}

static const struct phase {
	const char *name;
	const char *unit;
	void *(*fn)(void *);
	int (*begin)(struct fs_sim *); /* set-up before the workers, or NULL */
	void (*end)(struct fs_sim *);  /* after the phase line, or NULL */
} phases_known[] = {
	{ "onboard", "devices", onboard_worker, NULL, NULL },
	{ "token", "devices", token_worker, NULL, NULL },
	{ "poll", "requests", visit_worker, NULL, NULL },
	{ "git", "ops", visit_worker, NULL, NULL },
	{ "status", "requests", status_worker, NULL, NULL },
	{ "act", "visits", fs_act_worker, fs_act_begin, fs_act_end },
};

static const struct phase *phase_find(const char *name)
{
	for (size_t i = 0; i < sizeof(phases_known) / sizeof(phases_known[0]); i++)
		if (strcmp(phases_known[i].name, name) == 0)
			return &phases_known[i];
	return NULL;
}

static int run_phase(struct fs_sim *s, const struct phase *p, int *failed)
{
	struct fs_stats st;
	size_t onboarded = 0;

	if (fs_stats_init(&st, p->name, p->unit) != 0)
		return -1;
	s->stats = &st;
	for (size_t i = 0; i < s->ndev; i++)
		onboarded += s->dev[i].access_token != NULL;
	if (p->fn == onboard_worker && create_enrollment_token(s) != 0) {
		fprintf(stderr, "fleet-sim: cannot create the enrollment token\n");
		goto fail;
	}
	if (p->fn != onboard_worker && p->fn != token_worker && onboarded == 0) {
		fprintf(stderr, "fleet-sim: %s: no onboarded device\n", p->name);
		goto fail;
	}
	if (p->begin != NULL && p->begin(s) != 0) {
		fprintf(stderr, "fleet-sim: %s: out of memory\n", p->name);
		goto fail;
	}
	/* The enrollment token request is set-up, not throughput. */
	st.started = fs_now();
	s->deadline = st.started + s->duration;
	if (run_pool(s, s->concurrency, p->fn, s) != 0)
		fprintf(stderr, "fleet-sim: could not start every worker thread\n");
	st.finished = fs_now();
	fs_stats_print(&st);
	if (p->end != NULL)
		p->end(s);
	fflush(stdout);
	if (st.errors > 0 || st.unit_errors > 0)
		*failed = 1;
	fs_stats_free(&st);
	s->stats = NULL;
	return 0;
fail:
	st.finished = fs_now();
	fs_stats_print(&st);
	fs_stats_free(&st);
	s->stats = NULL;
	*failed = 1;
	return -1;
}

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int read_secret_file(const char *path, char **out)
{
	struct margo_error err;
	size_t len;

	if (margo_file_read(path, 4096, out, &len, &err) != 0) {
		fprintf(stderr, "fleet-sim: %s: %s\n", path, err.message);
		return -1;
	}
	while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' ||
			   (*out)[len - 1] == ' '))
		(*out)[--len] = '\0';
	return 0;
}

/* Parses the PEM certificates of path into a new X509_STORE (the devices' trust). */
static X509_STORE *trust_load(const char *path)
{
	struct margo_error err;
	X509_STORE *st = NULL;
	char *pem = NULL;
	size_t len = 0, n = 0;
	BIO *bio = NULL;
	X509 *x;

	if (margo_file_read(path, MAX_FILE, &pem, &len, &err) != 0) {
		fprintf(stderr, "fleet-sim: %s: %s\n", path, err.message);
		return NULL;
	}
	st = X509_STORE_new();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (st == NULL || bio == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(st, x) == 1;

		X509_free(x);
		if (!ok)
			goto fail;
		n++;
	}
	if (n == 0)
		goto fail;
	BIO_free(bio);
	free(pem);
	return st;
fail:
	fprintf(stderr, "fleet-sim: %s: no usable PEM certificate\n", path);
	BIO_free(bio);
	X509_STORE_free(st);
	free(pem);
	return NULL;
}

enum { OPT_URL = 256, OPT_CA, OPT_ADMIN, OPT_DEVICES, OPT_CONC, OPT_PHASES, OPT_DURATION,
       OPT_RATE, OPT_TIMEOUT, OPT_CONNECTIONS, OPT_POLLS, OPT_STATE, OPT_HELP, OPT_POLL_INTERVAL,
       OPT_POLL_MIN, OPT_POLL_MAX, OPT_APPLY_DELAY, OPT_FAILURE_RATIO, OPT_FAILURE_DEPLOYMENT,
       OPT_SEED, OPT_START_SPREAD, OPT_RETRIES };

static const struct option long_options[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "ca-file", required_argument, NULL, OPT_CA },
	{ "admin-token-file", required_argument, NULL, OPT_ADMIN },
	{ "devices", required_argument, NULL, OPT_DEVICES },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "phases", required_argument, NULL, OPT_PHASES },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "polls-per-visit", required_argument, NULL, OPT_POLLS },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "poll-interval", required_argument, NULL, OPT_POLL_INTERVAL },
	{ "poll-interval-min", required_argument, NULL, OPT_POLL_MIN },
	{ "poll-interval-max", required_argument, NULL, OPT_POLL_MAX },
	{ "apply-delay", required_argument, NULL, OPT_APPLY_DELAY },
	{ "failure-ratio", required_argument, NULL, OPT_FAILURE_RATIO },
	{ "failure-deployment", required_argument, NULL, OPT_FAILURE_DEPLOYMENT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "start-spread", required_argument, NULL, OPT_START_SPREAD },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* The act phase's numeric options. */
static int act_option(struct fs_sim *s, int opt, const char *arg)
{
	double v;

	switch (opt) {
	case OPT_POLL_INTERVAL:
		return parse_num(arg, 1, 7 * 86400, &s->poll_interval);
	case OPT_POLL_MIN:
		return parse_num(arg, 1, 7 * 86400, &s->poll_min);
	case OPT_POLL_MAX:
		return parse_num(arg, 1, 7 * 86400, &s->poll_max);
	case OPT_APPLY_DELAY:
		return parse_num(arg, 0, 86400, &s->apply_delay);
	case OPT_START_SPREAD:
		return parse_num(arg, 0, 86400, &s->start_spread);
	case OPT_FAILURE_RATIO:
		return parse_num(arg, 0, 1, &s->failure_ratio);
	case OPT_SEED:
		if (parse_num(arg, 0, 9007199254740992.0, &v) != 0)
			return -1;
		s->seed = (unsigned long long)v;
		return 0;
	}
	return -1;
}

static void devices_free(struct fs_sim *s)
{
	for (size_t i = 0; s->dev != NULL && i < s->ndev; i++) {
		struct fs_device *d = &s->dev[i];

		EVP_PKEY_free(d->key);
		free(d->cert_b64);
		free(d->client_id);
		margo_secret_free(d->client_secret);
		margo_secret_free(d->access_token);
		free(d->etag);
		free(d->git_username);
		margo_secret_free(d->git_token);
	}
	free(s->dev);
	s->dev = NULL;
}

int main(int argc, char **argv)
{
	struct fs_sim s = { .duration = 10, .timeout = 30, .conn_mode = FS_CONN_DEVICE,
			    .polls_per_visit = DEFAULT_POLLS_PER_VISIT,
			    .poll_interval = DEFAULT_POLL_INTERVAL, .poll_min = DEFAULT_POLL_MIN,
			    .apply_delay = DEFAULT_APPLY_DELAY, .start_spread = DEFAULT_START_SPREAD,
			    .seed = 1 };
	const struct phase *plist[16];
	const char *ca_path = NULL, *admin_path = NULL, *phases = DEFAULT_PHASES;
	const char *state_path = NULL;
	char phases_buf[128], *save = NULL, *ph;
	double v, n = 0, c = 0, t0, secs;
	struct keygen kg = { .s = &s };
	size_t nphases = 0;
	int opt, failed = 0, rc = 1, want_onboard = 0, have_devices = 0;
	long cpus;

	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_URL: s.url = optarg; break;
		case OPT_CA: ca_path = optarg; break;
		case OPT_ADMIN: admin_path = optarg; break;
		case OPT_PHASES: phases = optarg; break;
		case OPT_DEVICES:
			if (parse_num(optarg, 1, 1000000, &n) != 0)
				goto usage;
			break;
		case OPT_CONC:
			if (parse_num(optarg, 1, 4096, &c) != 0)
				goto usage;
			break;
		case OPT_DURATION:
			if (parse_num(optarg, 0.1, 86400, &s.duration) != 0)
				goto usage;
			break;
		case OPT_RATE:
			if (parse_num(optarg, 0, 1e7, &s.rate) != 0)
				goto usage;
			break;
		case OPT_TIMEOUT:
			if (parse_num(optarg, 1, 3600, &v) != 0)
				goto usage;
			s.timeout = (long)v;
			break;
		case OPT_RETRIES:
			if (parse_num(optarg, 0, 100, &v) != 0)
				goto usage;
			s.retries = (unsigned)v;
			break;
		case OPT_CONNECTIONS:
			if (strcmp(optarg, "device") == 0)
				s.conn_mode = FS_CONN_DEVICE;
			else if (strcmp(optarg, "request") == 0)
				s.conn_mode = FS_CONN_REQUEST;
			else
				goto usage;
			break;
		case OPT_STATE: state_path = optarg; break;
		case OPT_FAILURE_DEPLOYMENT: s.failure_deployment = optarg; break;
		case OPT_POLL_INTERVAL:
		case OPT_POLL_MIN:
		case OPT_POLL_MAX:
		case OPT_APPLY_DELAY:
		case OPT_START_SPREAD:
		case OPT_FAILURE_RATIO:
		case OPT_SEED:
			if (act_option(&s, opt, optarg) != 0)
				goto usage;
			break;
		case OPT_POLLS:
			if (parse_num(optarg, 1, 1000000, &v) != 0)
				goto usage;
			s.polls_per_visit = (unsigned)v;
			break;
		case OPT_HELP:
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || s.url == NULL || ca_path == NULL || admin_path == NULL ||
	    (n < 1 && state_path == NULL) || c < 1 || strlen(phases) >= sizeof(phases_buf))
		goto usage;
	s.ndev = (size_t)n;
	s.concurrency = (unsigned)c;
	strcpy(phases_buf, phases);
	for (ph = strtok_r(phases_buf, ",", &save); ph != NULL; ph = strtok_r(NULL, ",", &save)) {
		const struct phase *p = phase_find(ph);

		if (p == NULL || nphases + 1 >= sizeof(plist) / sizeof(plist[0]))
			goto usage;
		if (p->fn == onboard_worker)
			want_onboard = have_devices = 1;
		if (!have_devices && state_path != NULL) {
			/* Devices from an earlier run: fresh tokens first. */
			plist[nphases++] = phase_find("token");
			have_devices = 1;
		}
		if (!have_devices) {
			fprintf(stderr, "fleet-sim: %s needs the onboard phase before it, or --state "
				"FILE\n", ph);
			return 2;
		}
		if (p->fn != token_worker || nphases == 0 || plist[nphases - 1]->fn != token_worker)
			plist[nphases++] = p;
	}
	if (nphases == 0 || (!want_onboard && n < 1 && state_path == NULL))
		goto usage;

	s.trust = trust_load(ca_path);
	if (s.trust == NULL)
		return 1;
	if (read_secret_file(admin_path, &s.admin_token) != 0)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto out;
	if (!want_onboard) {
		if (fs_state_load(&s, state_path, s.ndev) != 0)
			goto out;
	} else {
		s.dev = calloc(s.ndev, sizeof(*s.dev));
		if (s.dev == NULL)
			goto out;
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		t0 = fs_now();
		if (run_pool(&s, cpus > 0 ? (unsigned)cpus : 1, keygen_worker, &kg) != 0 ||
		    atomic_load(&kg.failed)) {
			fprintf(stderr, "fleet-sim: key generation failed\n");
			goto out;
		}
		secs = fs_now() - t0;
		printf("keygen devices=%zu threads=%ld seconds=%.3f keys_per_s=%.0f timed=no\n",
		       s.ndev, cpus, secs, (double)s.ndev / secs);
	}
	if (s.concurrency > s.ndev)
		s.concurrency = (unsigned)s.ndev;
	printf("config devices=%zu concurrency=%u connections=%s polls_per_visit=%u\n", s.ndev,
	       s.concurrency, s.conn_mode == FS_CONN_DEVICE ? "device" : "request",
	       s.polls_per_visit);
	fflush(stdout);

	for (size_t i = 0; i < nphases; i++)
		if (run_phase(&s, plist[i], &failed) != 0)
			break;
	if (want_onboard && state_path != NULL && fs_state_save(&s, state_path) != 0)
		failed = 1;
	rc = failed ? 1 : 0;
out:
	devices_free(&s);
	margo_secret_free(s.enrollment_token);
	margo_secret_free(s.admin_token);
	X509_STORE_free(s.trust);
	curl_global_cleanup();
	return rc;
usage:
	fputs("fleet-sim: --url, --ca-file, --admin-token-file, --concurrency C >= 1 and "
	      "--devices N >= 1 (or --state FILE) are required; phases: onboard, token, poll, "
	      "git, status, act; --connections device|request; --failure-ratio 0..1 "
	      "(see --help)\n", stderr);
	return 2;
}
