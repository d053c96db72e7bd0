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

/* Margo-Poll-Interval as margo-agent reads it: delta-seconds from 1 to 7 days; 0 otherwise. */
static long poll_hint_parse(const char *v, size_t len)
{
	long secs = 0;

	if (len == 0 || len > 6)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		secs = secs * 10 + (v[i] - '0');
	}
	return secs >= 1 && secs <= 7 * 86400 ? secs : 0;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	const struct fs_req *r = ud;
	size_t len = size * n, vlen;
	const char *v;

	if (r->etag != NULL && (v = header_value(p, len, "ETag", &vlen)) != NULL) {
		free(*r->etag);
		*r->etag = strndup(v, vlen);
	}
	if (r->poll_hint != NULL && (v = header_value(p, len, "Margo-Poll-Interval", &vlen)) != NULL)
		*r->poll_hint = poll_hint_parse(v, vlen);
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

int fs_request(struct fs_sim *s, CURL *h, const struct fs_req *r, long *status_out)
{
	char url[1024];
	struct fs_buf local = { 0 };
	struct fs_buf *b = r->resp != NULL ? r->resp : &local;
	long status = 0, conns = 0;
	curl_off_t setup_us = 0;
	double t0;
	CURLcode cc;
	int ok, want_headers = r->etag != NULL || r->poll_hint != NULL;

	if (status_out != NULL)
		*status_out = 0;
	if (r->poll_hint != NULL)
		*r->poll_hint = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->url, r->path) >= sizeof(url)) {
		fs_stats_request(s->stats, r->route, 0, 0, 0);
		return -1;
	}
	b->data = NULL;
	b->len = 0;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
	    /* Without a header callback curl would write headers to HEADERDATA: NULL then. */
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, want_headers ? header_cb : NULL) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, want_headers ? r : NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH, r->user != NULL ? CURLAUTH_BASIC : CURLAUTH_NONE) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERNAME, r->user) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PASSWORD, r->secret) != CURLE_OK ||
	    (r->body != NULL ?
	     curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len) != CURLE_OK ||
	     curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body) != CURLE_OK :
	     curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK)) {
		fs_stats_request(s->stats, r->route, 0, 0, 0);
		return -1;
	}
	t0 = fs_now();
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0 &&
	    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &setup_us) == CURLE_OK)
		fs_stats_connection(s->stats, (double)setup_us / 1000.0);
	ok = cc == CURLE_OK && (status == r->want || status == r->want2);
	fs_stats_request(s->stats, r->route, status, ok, (fs_now() - t0) * 1000.0);
	if (cc != CURLE_OK && s->stats->errors <= 3)
		fprintf(stderr, "fleet-sim: %s: %s\n", r->route, curl_easy_strerror(cc));
	if (status_out != NULL)
		*status_out = status;
	fs_buf_free(&local, 0);
	return ok ? 0 : -1;
}
