/* fleet-sim: one process simulating N margo devices against a running wfmd (issue 5).
 * Each device has its own ECDSA P-256 key and self-signed certificate and opens its own TLS
 * connection (one libcurl easy handle per device visit, no shared session cache); C worker
 * threads carry the visits. Phases: onboard, poll, status. */
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
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

static const char usage_text[] =
"Usage: fleet-sim --url URL --ca-file F --admin-token-file F --devices N --concurrency C\n"
"                 [--phases onboard,poll,status] [--duration S] [--rate R] [--timeout S]\n"
"\n"
"Simulates N devices against a running wfmd, each with its own ECDSA P-256 key and its own\n"
"TLS connection (trusting only the CA of --ca-file). Phases run in the order given:\n"
"  onboard  creates an auto-approve enrollment token (maxUses N) with the admin token, then\n"
"           per device: GET /onboarding/certificate, signed POST /onboarding/,\n"
"           POST /oauth2/token, POST /device/{id}/capabilities\n"
"  poll     GET /device/{id}/desired-state, with If-None-Match once an ETag is known,\n"
"           round robin over the devices for --duration seconds (default 10)\n"
"  status   POST /device/{id}/deployment/" DEPLOYMENT_ID "/status once per device\n"
"poll and status need onboard earlier in the same run. --rate caps requests (poll, status)\n"
"or device onboardings per second over all workers (default: no cap).\n"
"Prints one line per phase: throughput, p50/p90/p99/max latency, errors by status and route.\n"
"Exit status 0 when every request succeeded, 1 when any failed, 2 on usage errors.\n";

struct device {
	EVP_PKEY *key;
	char *cert_b64;          /* standard base64 of the certificate PEM */
	char keyid[MARGO_KEYID_LEN];
	char serial[32];
	char *client_id;
	char *client_secret;
	char *access_token;
	char *etag;
};

struct sim {
	const char *url;
	struct curl_blob ca;
	char *ca_pem;
	char *admin_token;
	struct device *dev;
	size_t ndev;
	unsigned concurrency;
	double duration;
	double rate;
	long timeout;
	char *enrollment_token;
	/* per-phase run state */
	struct fs_stats *stats;
	atomic_size_t next;
	double deadline;
	int keygen_failed;
};

struct buf {
	char *data;
	size_t len;
};

static size_t buf_write(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t add = size * n;
	char *d;

	if (b->len + add > MAX_FILE)
		return 0;
	d = realloc(b->data, b->len + add + 1);
	if (d == NULL)
		return 0;
	memcpy(d + b->len, p, add);
	b->len += add;
	d[b->len] = '\0';
	b->data = d;
	return add;
}

static size_t etag_header(char *p, size_t size, size_t n, void *ud)
{
	char **etag = ud;
	size_t len = size * n;

	if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		const char *v = p + 5;
		size_t l = len - 5;

		while (l > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			l--;
		}
		while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
			l--;
		free(*etag);
		*etag = strndup(v, l);
	}
	return len;
}

static CURL *conn_new(const struct sim *s)
{
	CURL *h = curl_easy_init();

	if (h == NULL)
		return NULL;
	if (curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &s->ca) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, s->timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write) != CURLE_OK) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* One request on h. Records it in the phase statistics under route; ok when the status is
 * one of want/want2. resp gets the body (caller frees), etag the ETag when asked. */
static int request(struct sim *s, CURL *h, const char *route, const char *method,
		   const char *path, struct curl_slist *hdrs, const char *body, long want,
		   long want2, struct buf *resp, char **etag, long *status_out)
{
	char url[1024];
	struct buf local = { 0 };
	struct buf *b = resp != NULL ? resp : &local;
	long status = 0;
	double t0;
	CURLcode cc;
	int ok;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->url, path) >= sizeof(url))
		return -1;
	b->data = NULL;
	b->len = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, etag != NULL ? etag_header : NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, etag);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ||
			 strcmp(method, "POST") == 0 ? NULL : method);
	t0 = fs_now();
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	ok = cc == CURLE_OK && (status == want || status == want2);
	fs_stats_record(s->stats, route, status, ok, (fs_now() - t0) * 1000.0);
	if (cc != CURLE_OK && s->stats->errors <= 3)
		fprintf(stderr, "fleet-sim: %s: %s\n", route, curl_easy_strerror(cc));
	if (status_out != NULL)
		*status_out = status;
	free(local.data);
	return ok ? 0 : -1;
}

/* Paces the workers to --rate tickets per second over the whole phase. */
static void pace(struct sim *s, size_t ticket)
{
	double at, now;

	if (s->rate <= 0)
		return;
	at = s->stats->started + (double)ticket / s->rate;
	now = fs_now();
	if (at > now) {
		struct timespec ts = { (time_t)(at - now), (long)((at - now - (double)(time_t)(at - now)) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

static json_t *parse(const struct buf *b)
{
	return b->data != NULL ? json_loadb(b->data, b->len, 0, NULL) : NULL;
}

static char *json_str_dup(json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));

	return v != NULL ? strdup(v) : NULL;
}

/* ---- key generation ---- */

static int device_keygen(struct device *d, size_t i)
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
	struct sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev)
		if (device_keygen(&s->dev[i], i) != 0)
			s->keygen_failed = 1;
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

static int onboard_signed(struct sim *s, CURL *h, struct device *d)
{
	static const char *const components[] = { "@method", "@target-uri", "content-digest" };
	struct curl_slist *hdrs = NULL, *t;
	struct margo_error err;
	struct sig_ctx sc;
	struct buf resp = { 0 };
	char uri[1024], *body = NULL, *digest = NULL, *sig_input = NULL, *sig = NULL;
	char *line = NULL;
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
		goto out;
	sc = (struct sig_ctx){ uri, digest };
	if (margo_httpsig_sign(d->key, "sig1", components, 3, sig_resolve, &sc,
			       (int64_t)time(NULL), d->keyid, MARGO_HTTPSIG_ECDSA_P256_SHA256,
			       &sig_input, &sig, &err) != 0) {
		fprintf(stderr, "fleet-sim: signing: %s\n", err.message);
		goto out;
	}
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (hdrs && asprintf(&line, "Content-Digest: %s", digest) >= 0) {
		t = curl_slist_append(hdrs, line);
		hdrs = t;
		free(line);
		line = NULL;
	}
	if (hdrs && asprintf(&line, "Signature-Input: %s", sig_input) >= 0) {
		hdrs = curl_slist_append(hdrs, line);
		free(line);
		line = NULL;
	}
	if (hdrs && asprintf(&line, "Signature: %s", sig) >= 0) {
		hdrs = curl_slist_append(hdrs, line);
		free(line);
		line = NULL;
	}
	if (hdrs == NULL)
		goto out;
	if (request(s, h, "POST /onboarding/", "POST", "/onboarding/", hdrs, body, 201, 201,
		    &resp, NULL, NULL) != 0)
		goto out;
	doc = parse(&resp);
	d->client_id = json_str_dup(doc, "clientId");
	d->client_secret = json_str_dup(doc, "clientSecret");
	rc = d->client_id != NULL && d->client_secret != NULL &&
	     strchr(d->client_id, '/') == NULL ? 0 : -1;
out:
	json_decref(doc);
	if (body != NULL)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	free(digest);
	free(sig_input);
	free(sig);
	curl_slist_free_all(hdrs);
	if (resp.data != NULL)
		OPENSSL_cleanse(resp.data, resp.len);
	free(resp.data);
	return rc;
}

static int token(struct sim *s, CURL *h, struct device *d)
{
	struct curl_slist *hdrs = curl_slist_append(NULL,
		"Content-Type: application/x-www-form-urlencoded");
	struct buf resp = { 0 };
	char *body = NULL, *enc_id = NULL, *enc_secret = NULL;
	json_t *doc = NULL;
	int rc = -1;

	enc_id = curl_easy_escape(h, d->client_id, 0);
	enc_secret = curl_easy_escape(h, d->client_secret, 0);
	if (hdrs == NULL || enc_id == NULL || enc_secret == NULL ||
	    asprintf(&body, "grant_type=client_credentials&client_id=%s&client_secret=%s",
		     enc_id, enc_secret) < 0) {
		body = NULL;
		goto out;
	}
	if (request(s, h, "POST /oauth2/token", "POST", "/oauth2/token", hdrs, body, 200, 200,
		    &resp, NULL, NULL) != 0)
		goto out;
	doc = parse(&resp);
	d->access_token = json_str_dup(doc, "access_token");
	rc = d->access_token != NULL ? 0 : -1;
out:
	json_decref(doc);
	margo_secret_free(body);
	if (enc_secret != NULL)
		OPENSSL_cleanse(enc_secret, strlen(enc_secret));
	curl_free(enc_secret);
	curl_free(enc_id);
	curl_slist_free_all(hdrs);
	if (resp.data != NULL)
		OPENSSL_cleanse(resp.data, resp.len);
	free(resp.data);
	return rc;
}

static struct curl_slist *bearer_headers(const struct device *d, const char *extra)
{
	struct curl_slist *hdrs = NULL, *t;
	char *auth = NULL;

	if (asprintf(&auth, "Authorization: Bearer %s", d->access_token) < 0)
		return NULL;
	hdrs = curl_slist_append(NULL, auth);
	margo_secret_free(auth);
	if (hdrs != NULL && extra != NULL) {
		t = curl_slist_append(hdrs, extra);
		if (t == NULL) {
			curl_slist_free_all(hdrs);
			return NULL;
		}
		hdrs = t;
	}
	return hdrs;
}

static int capabilities(struct sim *s, CURL *h, struct device *d)
{
	struct curl_slist *hdrs = bearer_headers(d, "Content-Type: application/json");
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
		rc = request(s, h, "POST /device/{id}/capabilities", "POST", path, hdrs, body,
			     201, 201, NULL, NULL, NULL);
	json_decref(doc);
	free(body);
	curl_slist_free_all(hdrs);
	return rc;
}

static void onboard_device(struct sim *s, struct device *d)
{
	struct buf resp = { 0 };
	CURL *h = conn_new(s);
	json_t *doc = NULL;

	if (h == NULL) {
		fs_stats_record(s->stats, "(client setup)", 0, 0, 0);
		return;
	}
	/* A device first fetches the CA; it trusts it by pin (ours: the --ca-file). */
	if (request(s, h, "GET /onboarding/certificate", "GET", "/onboarding/certificate", NULL,
		    NULL, 200, 200, &resp, NULL, NULL) != 0)
		goto out;
	doc = parse(&resp);
	if (!json_is_string(json_object_get(doc, "certificate"))) {
		fs_stats_record(s->stats, "GET /onboarding/certificate (body)", 200, 0, 0);
		goto out;
	}
	if (onboard_signed(s, h, d) != 0 || token(s, h, d) != 0 || capabilities(s, h, d) != 0)
		goto out;
	pthread_mutex_lock(&s->stats->lock);
	s->stats->units++;
	pthread_mutex_unlock(&s->stats->lock);
out:
	json_decref(doc);
	free(resp.data);
	curl_easy_cleanup(h);
}

static void *onboard_worker(void *arg)
{
	struct sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev) {
		pace(s, i);
		onboard_device(s, &s->dev[i]);
	}
	return NULL;
}

static int create_enrollment_token(struct sim *s)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = { 0 };
	char *auth = NULL, *body = NULL;
	json_t *doc = NULL;
	CURL *h = conn_new(s);
	int rc = -1;

	doc = json_pack("{s:i, s:I, s:b, s:s}", "ttlSeconds", 86400, "maxUses",
			(json_int_t)s->ndev, "autoApprove", 1, "description", "fleet-sim");
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	doc = NULL;
	if (h == NULL || body == NULL ||
	    asprintf(&auth, "Authorization: Bearer %s", s->admin_token) < 0) {
		auth = NULL;
		goto out;
	}
	hdrs = curl_slist_append(NULL, auth);
	hdrs = hdrs ? curl_slist_append(hdrs, "Content-Type: application/json") : NULL;
	if (hdrs == NULL ||
	    request(s, h, "POST /admin/v1/enrollment-tokens", "POST", "/admin/v1/enrollment-tokens",
		    hdrs, body, 201, 201, &resp, NULL, NULL) != 0)
		goto out;
	doc = parse(&resp);
	s->enrollment_token = json_str_dup(doc, "token");
	rc = s->enrollment_token != NULL ? 0 : -1;
out:
	json_decref(doc);
	free(body);
	margo_secret_free(auth);
	curl_slist_free_all(hdrs);
	if (resp.data != NULL)
		OPENSSL_cleanse(resp.data, resp.len);
	free(resp.data);
	curl_easy_cleanup(h);
	return rc;
}

/* ---- poll and status ---- */

static void poll_device(struct sim *s, struct device *d)
{
	struct curl_slist *hdrs;
	char path[256], inm[320], *etag = NULL;
	CURL *h;
	long status = 0;

	if (d->access_token == NULL)
		return;
	snprintf(inm, sizeof(inm), "If-None-Match: %s", d->etag != NULL ? d->etag : "");
	hdrs = bearer_headers(d, d->etag != NULL ? inm : NULL);
	h = conn_new(s);
	snprintf(path, sizeof(path), "/device/%s/desired-state", d->client_id);
	if (h != NULL && hdrs != NULL &&
	    request(s, h, "GET /device/{id}/desired-state", "GET", path, hdrs, NULL, 200, 304,
		    NULL, &etag, &status) == 0 && status == 200 && etag != NULL) {
		free(d->etag); /* one worker visits a device at a time (see poll_worker) */
		d->etag = etag;
		etag = NULL;
	}
	free(etag);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

static void *poll_worker(void *arg)
{
	struct sim *s = arg;
	size_t i;

	/* Ticket i visits device i % N: with C <= N workers two workers never hold the same
	 * device at once, as long as a visit lasts less than N/C visits of the others. */
	while (fs_now() < s->deadline) {
		i = atomic_fetch_add(&s->next, 1);
		pace(s, i);
		if (fs_now() >= s->deadline)
			break;
		poll_device(s, &s->dev[i % s->ndev]);
	}
	return NULL;
}

static void status_device(struct sim *s, struct device *d)
{
	struct curl_slist *hdrs;
	char path[320], *body = NULL;
	json_t *doc;
	CURL *h;

	if (d->access_token == NULL)
		return;
	doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:n}, s:[{s:s, s:s, s:n}]}",
			"apiVersion", "deployment.margo/v1", "kind", "DeploymentStatus",
			"deploymentId", DEPLOYMENT_ID, "status", "state", "Installed", "error",
			"components", "name", "app", "state", "Installed", "error");
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	hdrs = bearer_headers(d, "Content-Type: application/json");
	h = conn_new(s);
	snprintf(path, sizeof(path), "/device/%s/deployment/%s/status", d->client_id,
		 DEPLOYMENT_ID);
	if (h != NULL && hdrs != NULL && body != NULL)
		(void)request(s, h, "POST /device/{id}/deployment/{deploymentId}/status", "POST",
			      path, hdrs, body, 201, 201, NULL, NULL, NULL);
	else
		fs_stats_record(s->stats, "(client setup)", 0, 0, 0);
	free(body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

static void *status_worker(void *arg)
{
	struct sim *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->ndev) {
		pace(s, i);
		status_device(s, &s->dev[i]);
	}
	return NULL;
}

/* ---- driver ---- */

static int run_pool(struct sim *s, unsigned n, void *(*fn)(void *))
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
	for (; started < n; started++)
		if (pthread_create(&t[started], &attr, fn, s) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_attr_destroy(&attr);
	free(t);
	return started == n ? 0 : -1;
}

static int run_phase(struct sim *s, const char *name, void *(*fn)(void *), int *failed)
{
	struct fs_stats st;

	if (fs_stats_init(&st, name) != 0)
		return -1;
	s->stats = &st;
	s->deadline = st.started + s->duration;
	if (strcmp(name, "onboard") == 0 && create_enrollment_token(s) != 0) {
		fprintf(stderr, "fleet-sim: cannot create the enrollment token\n");
		st.finished = fs_now();
		fs_stats_print(&st);
		fs_stats_free(&st);
		*failed = 1;
		return -1;
	}
	if (strcmp(name, "onboard") == 0)
		st.started = fs_now(); /* the token request is set-up, not throughput */
	if (run_pool(s, s->concurrency, fn) != 0)
		fprintf(stderr, "fleet-sim: could not start every worker thread\n");
	st.finished = fs_now();
	fs_stats_print(&st);
	if (st.errors > 0)
		*failed = 1;
	fs_stats_free(&st);
	s->stats = NULL;
	return 0;
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

enum { OPT_URL = 256, OPT_CA, OPT_ADMIN, OPT_DEVICES, OPT_CONC, OPT_PHASES, OPT_DURATION,
       OPT_RATE, OPT_TIMEOUT, OPT_HELP };

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
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct sim s = { .concurrency = 0, .duration = 10, .timeout = 30 };
	const char *ca_path = NULL, *admin_path = NULL, *phases = "onboard,poll,status";
	char phases_buf[128], *save = NULL, *ph;
	double v, n = 0, c = 0, t0;
	size_t ca_len = 0;
	struct margo_error err;
	int opt, failed = 0, rc = 1, want_onboard = 0;
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
		case OPT_HELP:
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || s.url == NULL || ca_path == NULL || admin_path == NULL || n < 1 ||
	    c < 1 || strlen(phases) >= sizeof(phases_buf))
		goto usage;
	s.ndev = (size_t)n;
	s.concurrency = (unsigned)c;
	if (s.concurrency > s.ndev)
		s.concurrency = (unsigned)s.ndev;
	strcpy(phases_buf, phases);
	for (ph = strtok_r(phases_buf, ",", &save); ph != NULL; ph = strtok_r(NULL, ",", &save)) {
		if (strcmp(ph, "onboard") == 0)
			want_onboard = 1;
		else if (strcmp(ph, "poll") != 0 && strcmp(ph, "status") != 0)
			goto usage;
	}
	if (!want_onboard) {
		fprintf(stderr, "fleet-sim: poll and status need the onboard phase in the same run\n");
		return 2;
	}
	strcpy(phases_buf, phases);

	if (margo_file_read(ca_path, MAX_FILE, &s.ca_pem, &ca_len, &err) != 0) {
		fprintf(stderr, "fleet-sim: %s: %s\n", ca_path, err.message);
		return 1;
	}
	s.ca = (struct curl_blob){ s.ca_pem, ca_len, CURL_BLOB_NOCOPY };
	if (read_secret_file(admin_path, &s.admin_token) != 0)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto out;
	s.dev = calloc(s.ndev, sizeof(*s.dev));
	if (s.dev == NULL)
		goto out;

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	t0 = fs_now();
	if (run_pool(&s, cpus > 0 ? (unsigned)cpus : 1, keygen_worker) != 0 || s.keygen_failed) {
		fprintf(stderr, "fleet-sim: key generation failed\n");
		goto out;
	}
	printf("keygen devices=%zu threads=%ld seconds=%.3f keys_per_s=%.0f\n", s.ndev, cpus,
	       fs_now() - t0, (double)s.ndev / (fs_now() - t0));
	fflush(stdout);

	save = NULL;
	for (ph = strtok_r(phases_buf, ",", &save); ph != NULL; ph = strtok_r(NULL, ",", &save)) {
		void *(*fn)(void *) = strcmp(ph, "onboard") == 0 ? onboard_worker :
				      strcmp(ph, "poll") == 0 ? poll_worker : status_worker;

		if (run_phase(&s, ph, fn, &failed) != 0)
			goto out;
	}
	rc = failed ? 1 : 0;
out:
	for (size_t i = 0; s.dev != NULL && i < s.ndev; i++) {
		EVP_PKEY_free(s.dev[i].key);
		free(s.dev[i].cert_b64);
		free(s.dev[i].client_id);
		margo_secret_free(s.dev[i].client_secret);
		margo_secret_free(s.dev[i].access_token);
		free(s.dev[i].etag);
	}
	free(s.dev);
	margo_secret_free(s.enrollment_token);
	margo_secret_free(s.admin_token);
	free(s.ca_pem);
	curl_global_cleanup();
	return rc;
usage:
	fputs("fleet-sim: --url, --ca-file, --admin-token-file, --devices N >= 1 and "
	      "--concurrency C >= 1 are required; phases: onboard,poll,status (see --help)\n",
	      stderr);
	return 2;
}
