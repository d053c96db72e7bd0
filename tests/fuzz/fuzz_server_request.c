/* libFuzzer target for wfmd's request path: route matching and the real route handlers with
 * their header, query, form and JSON body parsing (onboarding request, token form, Basic
 * credentials, capabilities, deployment status, git credentials, admin bodies, deployment
 * YAML), against a real SQLite store (the desired state included) in a temporary directory. Only the
 * libmicrohttpd connection is missing: the request is built in memory (http_request.fields).
 *
 * Input: "METHOD TARGET\n", then "Name: value\n" header lines, an empty line, the body. In
 * the target and header values these placeholders become live credentials of the setup, so
 * that inputs get past authentication: @ADMIN (admin token), @DEV (an approved device's id),
 * @ACCESS (its access token), @SECRET (its client secret). Every answer must be a valid
 * status, and a failure must carry a problem status. The data directory is recreated every
 * FUZZ_RESET inputs so that writes do not accumulate. */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access_token.h"
#include "api.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "wfmd.h"

#define FUZZ_RESET 5000
#define FUZZ_MAX_FIELDS 16
#define FUZZ_INPUT_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wfmd w;
static char dir[64], dev[MARGO_UUID_LEN], *admin, *access_tok, *secret;
static unsigned long runs;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_server_request setup: %s\n", what);
	abort();
}

/* An approved device (enrollment token with auto-approve) and its live access token. */
static void setup_device(void)
{
	struct store_enrollment_token t = { .auto_approve = 1, .max_uses = 1 };
	struct store_onboard_in in = { 0 };
	struct store_onboard_out out;
	struct access_token claims = { 0 };
	struct margo_error err;
	char th[MARGO_TOKEN_HASH_LEN], sh[MARGO_TOKEN_HASH_LEN], rid[MARGO_UUID_LEN];
	char *enroll = margo_token_generate(MARGO_TOKEN_ENROLLMENT);

	margo_secret_free(secret);
	secret = margo_token_generate(MARGO_TOKEN_CLIENT_SECRET);
	if (enroll == NULL || secret == NULL || margo_uuid_v4(t.id) < 0 ||
	    margo_uuid_v4(dev) < 0 || margo_uuid_v4(rid) < 0)
		die("tokens");
	margo_token_hash(enroll, th);
	margo_token_hash(secret, sh);
	t.created_at = margo_time_now();
	t.expires_at = t.created_at + 3600;
	if (store_enrollment_token_create(w.store, &t, th, &err) < 0)
		die(err.message);
	in.fingerprint = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	in.keyid = "0000000000000000000000000000000000000000000000000000000000000000";
	in.certificate_pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
	in.enrollment_token_hash = th;
	in.pending_max = 10;
	in.pending_ttl = 3600;
	in.now = t.created_at;
	in.new_device_id = dev;
	in.new_request_id = rid;
	in.secret_hash = sh;
	in.poll_token_hash = sh;
	if (store_onboard(w.store, &in, &out, &err) < 0 || out.result != STORE_ONBOARD_APPROVED)
		die("onboard");
	strcpy(dev, out.device_id);
	if (store_client_authenticate(w.store, dev, sh, t.created_at, &claims.epoch, &err) < 0)
		die(err.message);
	strcpy(claims.device_id, dev);
	claims.expires_at = t.created_at + 86400;
	margo_secret_free(access_tok);
	access_tok = access_token_mint(w.access_key, &claims);
	if (access_tok == NULL)
		die("access token");
	margo_secret_free(enroll);
}

static void setup(void)
{
	char path[128];
	unsigned char raw[ACCESS_TOKEN_KEY_LEN] = { 1 };
	struct margo_error err;

	margo_log_set_level(MARGO_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_server_request.XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/wfmd.db", dir);
	if (store_open(path, &w.store, &err) < 0)
		die(err.message);
	if (w.access_key == NULL && access_key_new(raw, &w.access_key, &err) < 0)
		die(err.message);
	if (admin == NULL && (admin = margo_token_generate(MARGO_TOKEN_ADMIN)) == NULL)
		die("admin token");
	margo_token_hash(admin, w.admin_token_hash);
	w.public_url = "https://127.0.0.1:8443";
	w.ca_pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
	w.access_token_ttl = WFMD_DEFAULT_ACCESS_TOKEN_TTL;
	w.pending_max = 10;
	w.pending_ttl = 3600;
	w.allow_approval_requests = 1;
	w.git_token_ttl = WFMD_DEFAULT_GIT_TOKEN_TTL;
	setup_device();
}

static void teardown(void)
{
	char cmd[128];

	store_close(w.store);
	w.store = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm");
}

/* s with the placeholders replaced (newly allocated). */
static char *expand(const char *s)
{
	static const char *const names[] = { "@ADMIN", "@DEV", "@ACCESS", "@SECRET" };
	const char *values[] = { admin, dev, access_tok, secret };
	size_t cap = strlen(s) * 8 + 512, len = 0;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	while (*s != '\0') {
		size_t i, n;

		for (i = 0; i < 4; i++)
			if (strncmp(s, names[i], strlen(names[i])) == 0)
				break;
		if (i < 4 && len + strlen(values[i]) < cap - 1) {
			n = strlen(values[i]);
			memcpy(out + len, values[i], n);
			len += n;
			s += strlen(names[i]);
		} else if (len < cap - 1) {
			out[len++] = *s++;
		} else {
			break;
		}
	}
	out[len] = '\0';
	return out;
}

/* Splits "name=value&..." (no decoding beyond what wfmd's handlers get from MHD). */
static size_t split_query(char *q, struct http_field *f, size_t max)
{
	size_t n = 0;

	while (q != NULL && *q != '\0' && n < max) {
		char *amp = strchr(q, '&'), *eq;

		if (amp != NULL)
			*amp++ = '\0';
		eq = strchr(q, '=');
		if (eq != NULL)
			*eq++ = '\0';
		f[n].name = q;
		f[n].value = eq != NULL ? eq : "";
		n++;
		q = amp;
	}
	return n;
}

static void response_free(struct http_response *resp)
{
	free(resp->body);
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].value);
}

static void run(struct http_request *req, const char *path)
{
	char *buf = malloc(strlen(path) + 1), allow[128];
	const struct http_route *route;
	struct http_response resp;
	unsigned status = 0;
	int rc;

	if (buf == NULL)
		return;
	route = http_route_find(api_routes, api_nroutes, req->method, path, buf, req->params,
				&req->nparams, &status, allow, sizeof(allow));
	if (route == NULL) {
		if (status != 404 && status != 405)
			abort();
		free(buf);
		return;
	}
	if (req->body_len > (route->body_max > 0 ? route->body_max : HTTP_JSON_MAX)) {
		free(buf);
		return; /* http.c answers 413 before the handler */
	}
	memset(&resp, 0, sizeof(resp));
	rc = route->handler(req, &resp);
	if (rc < 0 && req->problem.status != 0 &&
	    (req->problem.status < 400 || req->problem.status > 599))
		abort();
	if (rc == 0 && resp.status != 0 && (resp.status < 100 || resp.status > 599))
		abort();
	response_free(&resp);
	free(req->problem.validation); /* owned by the request: http.c frees it likewise */
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_field fields[FUZZ_MAX_FIELDS], query[FUZZ_MAX_FIELDS];
	struct http_request req;
	char *text, *line, *next, *sp, *q, *target = NULL, *body, *path;
	char *expanded[FUZZ_MAX_FIELDS] = { 0 };
	size_t nfields = 0;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	if (runs++ % FUZZ_RESET == 0) {
		if (w.store != NULL)
			teardown();
		setup();
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&req, 0, sizeof(req));
	req.ctx = &w;
	strcpy(req.client_addr, "127.0.0.1");
	/* request line */
	next = strchr(text, '\n');
	if (next != NULL)
		*next++ = '\0';
	sp = strchr(text, ' ');
	if (sp == NULL || next == NULL)
		goto out;
	*sp = '\0';
	req.method = text;
	target = expand(sp + 1);
	if (target == NULL)
		goto out;
	req.target = target;
	/* header lines up to the empty one */
	for (line = next; line != NULL; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (*line == '\0')
			break;
		colon = strchr(line, ':');
		if (colon == NULL || nfields == FUZZ_MAX_FIELDS)
			continue;
		*colon++ = '\0';
		while (*colon == ' ')
			colon++;
		expanded[nfields] = expand(colon);
		if (expanded[nfields] == NULL)
			goto out;
		fields[nfields].name = line;
		fields[nfields].value = expanded[nfields];
		nfields++;
	}
	body = next;
	req.fields = fields;
	req.nfields = nfields;
	req.body = body != NULL && *body != '\0' ? body : NULL;
	req.body_len = body != NULL ? size - (size_t)(body - text) : 0;
	if (req.body == NULL)
		req.body_len = 0;
	path = strdup(target);
	if (path == NULL)
		goto out;
	q = strchr(path, '?');
	if (q != NULL)
		*q++ = '\0';
	req.nquery = split_query(q, query, FUZZ_MAX_FIELDS);
	req.query = query;
	req.path = path;
	run(&req, path);
	free(path);
out:
	for (size_t i = 0; i < nfields; i++)
		free(expanded[i]);
	free(target);
	free(text);
	return 0;
}
