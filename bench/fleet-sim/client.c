/* fleet-sim: the devices' HTTP client (libcurl), one handle per device connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "fleet-sim.h"
#include "margo/token.h"

static size_t buf_write(char *p, size_t size, size_t n, void *ud)
{
	struct fs_buf *b = ud;
	size_t add = size * n;
	char *d;

	if (b->len + add > FS_MAX_BODY)
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

void fs_buf_free(struct fs_buf *b, int secret)
{
	if (b->data != NULL && secret)
		OPENSSL_cleanse(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

int fs_header_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (l == NULL) {
		curl_slist_free_all(*list);
		*list = NULL;
		return -1;
	}
	*list = l;
	return 0;
}

struct curl_slist *fs_bearer_headers(const struct fs_device *d, const char *extra)
{
	struct curl_slist *hdrs = NULL;
	char *auth = NULL;

	if (asprintf(&auth, "Authorization: Bearer %s", d->access_token) < 0)
		return NULL;
	if (fs_header_add(&hdrs, auth) == 0 && extra != NULL)
		(void)fs_header_add(&hdrs, extra);
	margo_secret_free(auth);
	return hdrs;
}

/* A header's value: blanks and the line end trimmed; NULL unless the line is "name: ...". */
static const char *header_value(const char *p, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	const char *v = p + n + 1;
	size_t l;

	if (len <= n + 1 || strncasecmp(p, name, n) != 0 || p[n] != ':')
		return NULL;
	l = len - n - 1;
	while (l > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		l--;
	}
	while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
		l--;
	*vlen = l;
	return v;
}

/* delta-seconds (RFC 9110 5.6.7): up to 6 digits; -1 when not that. */
static long delta_seconds(const char *v, size_t len)
{
	long secs = 0;

	if (len == 0 || len > 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		secs = secs * 10 + (v[i] - '0');
	}
	return secs;
}

/* Margo-Poll-Interval as margo-agent reads it: delta-seconds from 1 to 7 days; 0 otherwise. */
static long poll_hint_parse(const char *v, size_t len)
{
	long secs = delta_seconds(v, len);

	return secs >= 1 && secs <= 7 * 86400 ? secs : 0;
}

/* What the header callback reads for one attempt of a request. */
struct hdr_ctx {
	const struct fs_req *r;
	long retry_after;          /* Retry-After in seconds, -1: none */
};

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct hdr_ctx *c = ud;
	const struct fs_req *r = c->r;
	size_t len = size * n, vlen;
	const char *v;

	if (r->etag != NULL && (v = header_value(p, len, "ETag", &vlen)) != NULL) {
		free(*r->etag);
		*r->etag = strndup(v, vlen);
	}
	if (r->poll_hint != NULL && (v = header_value(p, len, "Margo-Poll-Interval", &vlen)) != NULL)
		*r->poll_hint = poll_hint_parse(v, vlen);
	if ((v = header_value(p, len, "Retry-After", &vlen)) != NULL)
		c->retry_after = delta_seconds(v, vlen); /* wfmd sends no HTTP-date */
	return len;
}

/* Gives each new connection's SSL_CTX the CA store parsed once at start, as a device holds
 * its pinned CA in memory; curl itself loads no CA file (CAINFO and CAPATH are unset). */
static CURLcode ssl_ctx_trust(CURL *h, void *ssl_ctx, void *ud)
{
	(void)h;
	SSL_CTX_set1_cert_store(ssl_ctx, ud);
	return CURLE_OK;
}

CURL *fs_conn_new(const struct fs_sim *s)
{
	CURL *h = curl_easy_init();
	long fresh = s->conn_mode == FS_CONN_REQUEST;

	if (h == NULL)
		return NULL;
	if (curl_easy_setopt(h, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_trust) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, s->trust) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    /* Every connection makes a full handshake: no TLS session resumption. */
	    curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, fresh) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, fresh) != CURLE_OK ||
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

void fs_pace(struct fs_sim *s, size_t ticket, double until)
{
	double at, now, d;
	struct timespec ts;

	if (s->rate <= 0)
		return;
	at = s->stats->started + (double)ticket / s->rate;
	if (until > 0 && at > until)
		at = until;
	now = fs_now();
	if (at <= now)
		return;
	d = at - now;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* One attempt: sets *cc, *status and c->retry_after; records the connection it made. */
static int attempt(struct fs_sim *s, CURL *h, const struct fs_req *r, struct fs_buf *b,
		   struct hdr_ctx *c, CURLcode *cc, long *status)
{
	char url[1024];
	long conns = 0;
	curl_off_t setup_us = 0;

	*status = 0;
	*cc = CURLE_FAILED_INIT;
	c->r = r;
	c->retry_after = -1;
	if (r->poll_hint != NULL)
		*r->poll_hint = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->url, r->path) >= sizeof(url))
		return -1;
	fs_buf_free(b, 0);
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH, r->user != NULL ? CURLAUTH_BASIC : CURLAUTH_NONE) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERNAME, r->user) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PASSWORD, r->secret) != CURLE_OK ||
	    (r->body != NULL ?
	     curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len) != CURLE_OK ||
	     curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body) != CURLE_OK :
	     curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK))
		return -1;
	*cc = curl_easy_perform(h);
	if (*cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0 &&
	    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &setup_us) == CURLE_OK)
		fs_stats_connection(s->stats, (double)setup_us / 1000.0);
	return 0;
}

/* The failures a device retries (--retries): the connection refused, reset or closed without
 * an answer (a replica killed, HAProxy moving on), and 503 with Retry-After (the store
 * unavailable). Anything else, timeouts included, is an error. */
static enum fs_retry retry_kind(CURLcode cc, long status, long retry_after)
{
	switch (cc) {
	case CURLE_OK:
		return status == 503 && retry_after >= 0 ? FS_RETRY_503 : FS_RETRY_NONE;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PARTIAL_FILE:
		return FS_RETRY_CONNECTION;
	default:
		return FS_RETRY_NONE;
	}
}

/* Waits before retry number n (0-based): Retry-After when given (at most 10 s), else 0.1 s
 * doubling up to 2 s, with jitter so that devices cut off together do not return together. */
static void retry_wait(unsigned n, long retry_after)
{
	double d = retry_after >= 0 ? (retry_after < 10 ? (double)retry_after : 10.0) :
		   0.1 * (double)(1u << (n < 5 ? n : 5));
	struct timespec ts;

	if (retry_after < 0 && d > 2.0)
		d = 2.0;
	d *= 0.75 + 0.5 * ((double)rand() / RAND_MAX);
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

int fs_request(struct fs_sim *s, CURL *h, const struct fs_req *r, long *status_out)
{
	struct fs_buf local = { 0 };
	struct fs_buf *b = r->resp != NULL ? r->resp : &local;
	struct hdr_ctx c;
	enum fs_retry kind;
	long status = 0;
	double t0 = fs_now();
	CURLcode cc = CURLE_OK;
	int ok = 0;

	b->data = NULL;
	b->len = 0;
	for (unsigned n = 0;; n++) {
		if (attempt(s, h, r, b, &c, &cc, &status) < 0)
			break;
		ok = cc == CURLE_OK && (status == r->want || status == r->want2);
		if (ok || n >= s->retries || (kind = retry_kind(cc, status, c.retry_after)) ==
		    FS_RETRY_NONE)
			break;
		fs_stats_retry(s->stats, kind);
		retry_wait(n, c.retry_after);
	}
	fs_stats_request(s->stats, r->route, status, ok, (fs_now() - t0) * 1000.0);
	if (!ok && cc != CURLE_OK && s->stats->errors <= 3)
		fprintf(stderr, "fleet-sim: %s: %s\n", r->route, curl_easy_strerror(cc));
	if (status_out != NULL)
		*status_out = status;
	fs_buf_free(&local, 0);
	return ok ? 0 : -1;
}
