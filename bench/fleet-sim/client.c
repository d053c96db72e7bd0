/* fleet-sim: the devices' HTTP client (libcurl), one handle per device connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "fleet-sim.h"

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
	int ok;

	if (status_out != NULL)
		*status_out = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->url, r->path) >= sizeof(url)) {
		fs_stats_request(s->stats, r->route, 0, 0, 0);
		return -1;
	}
	b->data = NULL;
	b->len = 0;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, r->etag != NULL ? etag_header : NULL) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, r->etag) != CURLE_OK ||
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
