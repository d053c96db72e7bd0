#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "margo/error.h"
#include "margo/httpc.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_S 10L
#define HTTP_DEFAULT_TIMEOUT_S 30L
#define HTTP_HEADER_VALUE_MAX 4096
#define HTTP_REQUEST_HEADERS_MAX 32

struct margo_http_client {
	CURL *curl;
	char *ca_pem;
	char errbuf[CURL_ERROR_SIZE];
};

/* What the callbacks collect for one request. */
struct http_exchange {
	struct margo_http_response *resp;
	size_t cap;
	int too_big;
	int nomem;
};

static int curl_initialised;

static int http_global_init(struct margo_error *err)
{
	/* curl_global_init is not thread-safe before 7.84; clients are created before any
	 * thread starts in our programs, and later calls are no-ops. */
	if (!curl_initialised) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return margo_error_set(err, MARGO_ENOMEM, "curl_global_init failed");
		curl_initialised = 1;
	}
	return MARGO_OK;
}

int margo_http_client_new(const struct margo_http_options *opts, struct margo_http_client **out,
			  struct margo_error *err)
{
	struct margo_http_client *c = NULL;
	struct curl_blob blob;
	long connect_timeout, timeout;
	int ret;
	CURLcode cc = CURLE_OK;

	*out = NULL;
	if (opts == NULL || (opts->ca_pem == NULL && !opts->insecure))
		return margo_error_set(err, MARGO_EINVAL,
				       "https client needs the CA certificate to trust");
	ret = http_global_init(err);
	if (ret != MARGO_OK)
		return ret;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		ret = margo_error_set(err, MARGO_ENOMEM, "curl_easy_init failed");
		goto out;
	}
	connect_timeout = opts->connect_timeout_s > 0 ? opts->connect_timeout_s
						      : HTTP_DEFAULT_CONNECT_TIMEOUT_S;
	timeout = opts->timeout_s > 0 ? opts->timeout_s : HTTP_DEFAULT_TIMEOUT_S;

#define SETOPT(opt, val)                                        \
	do {                                                    \
		if (cc == CURLE_OK)                             \
			cc = curl_easy_setopt(c->curl, opt, val); \
	} while (0)

	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_CONNECTTIMEOUT, connect_timeout);
	SETOPT(CURLOPT_TIMEOUT, timeout);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(CURLOPT_USERAGENT, "margo-fleet/" MARGO_VERSION);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MARGO_HTTP_RESPONSE_MAX);
	/* Proxy only from the options: "" stops libcurl from reading http(s)_proxy/ALL_PROXY,
	 * and an empty no-proxy list stops NO_PROXY from bypassing a configured proxy. */
	SETOPT(CURLOPT_PROXY, opts->proxy != NULL ? opts->proxy : "");
	SETOPT(CURLOPT_NOPROXY, "");
	/* Trust nothing but the CA we were given: no compiled-in bundle, no directory. */
	SETOPT(CURLOPT_CAINFO, NULL);
	SETOPT(CURLOPT_CAPATH, NULL);
	SETOPT(CURLOPT_PROXY_CAINFO, NULL);
	SETOPT(CURLOPT_PROXY_CAPATH, NULL);
	if (opts->insecure) {
		SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		c->ca_pem = strdup(opts->ca_pem);
		if (c->ca_pem == NULL) {
			ret = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		blob.data = c->ca_pem;
		blob.len = strlen(c->ca_pem);
		blob.flags = CURL_BLOB_COPY;
		SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
		SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
		SETOPT(CURLOPT_CAINFO_BLOB, &blob);
	}
#undef SETOPT
	if (cc != CURLE_OK) {
		ret = margo_error_set(err, MARGO_EUNSUPPORTED, "libcurl option refused: %s",
				      curl_easy_strerror(cc));
		goto out;
	}
	*out = c;
	c = NULL;
	ret = MARGO_OK;
out:
	margo_http_client_free(c);
	return ret;
}

void margo_http_client_free(struct margo_http_client *client)
{
	if (client == NULL)
		return;
	if (client->curl != NULL)
		curl_easy_cleanup(client->curl);
	free(client->ca_pem);
	free(client);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_exchange *x = userdata;
	struct margo_http_response *r = x->resp;
	size_t n = size * nmemb, want;
	char *nb;

	if (n > MARGO_HTTP_RESPONSE_MAX - r->body_len) {
		x->too_big = 1;
		return 0;
	}
	if (r->body_len + n + 1 > x->cap) {
		want = x->cap ? x->cap : 4096;
		while (want < r->body_len + n + 1)
			want *= 2;
		nb = realloc(r->body, want);
		if (nb == NULL) {
			x->nomem = 1;
			return 0;
		}
		r->body = nb;
		x->cap = want;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

/* Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date; seconds from now. */
static long parse_retry_after(const char *v)
{
	char *end;
	long secs;
	time_t when, now;

	if (isdigit((unsigned char)*v)) {
		secs = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		return *end == '\0' && secs >= 0 ? secs : -1;
	}
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	now = time(NULL);
	return when > now ? (long)(when - now) : 0;
}

static void replace_header(char **slot, const char *v, size_t len, struct http_exchange *x)
{
	char *s = strndup(v, len);

	if (s == NULL) {
		x->nomem = 1;
		return;
	}
	free(*slot);
	*slot = s;
}

static void reset_headers(struct margo_http_response *r)
{
	free(r->content_type);
	free(r->location);
	free(r->www_authenticate);
	free(r->etag);
	r->content_type = r->location = r->www_authenticate = r->etag = NULL;
	r->retry_after = -1;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
	struct http_exchange *x = userdata;
	struct margo_http_response *r = x->resp;
	size_t n = size * nitems, namelen, vlen;
	const char *colon, *v;
	char tmp[64];

	/* A new status line starts a new header block (100 Continue, proxy CONNECT). */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		reset_headers(r);
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	namelen = (size_t)(colon - data);
	v = colon + 1;
	vlen = n - namelen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
			    v[vlen - 1] == '\t'))
		vlen--;
	if (vlen > HTTP_HEADER_VALUE_MAX)
		return n;
#define IS(name) (namelen == sizeof(name) - 1 && strncasecmp(data, name, namelen) == 0)
	if (IS("Content-Type")) {
		replace_header(&r->content_type, v, vlen, x);
	} else if (IS("Location")) {
		replace_header(&r->location, v, vlen, x);
	} else if (IS("WWW-Authenticate")) {
		replace_header(&r->www_authenticate, v, vlen, x);
	} else if (IS("ETag")) {
		replace_header(&r->etag, v, vlen, x);
	} else if (IS("Retry-After")) {
		if (vlen < sizeof(tmp)) {
			memcpy(tmp, v, vlen);
			tmp[vlen] = '\0';
			r->retry_after = parse_retry_after(tmp);
		}
	}
#undef IS
	return n;
}

static int set_method(CURL *curl, const char *method, const void *body, size_t body_len)
{
	CURLcode cc;

	/* The handle is reused: undo whatever the previous request set. */
	cc = curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
	if (cc != CURLE_OK)
		return MARGO_EINVAL;
	if (strcmp(method, "HEAD") == 0)
		return curl_easy_setopt(curl, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : MARGO_EINVAL;
	if (body == NULL && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
	    strcmp(method, "PATCH") != 0) {
		/* No body: GET machinery, with the verb replaced below when it is not GET. */
		cc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		if (cc == CURLE_OK && strcmp(method, "GET") != 0)
			cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
		return cc == CURLE_OK ? MARGO_OK : MARGO_EINVAL;
	} else {
		/* POST machinery sends the body (possibly empty, with Content-Length: 0). */
		cc = curl_easy_setopt(curl, CURLOPT_POST, 1L);
		if (cc == CURLE_OK)
			cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
					      (curl_off_t)(body != NULL ? body_len : 0));
		if (cc == CURLE_OK)
			cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	}
	if (cc == CURLE_OK && strcmp(method, "POST") != 0)
		cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	return cc == CURLE_OK ? MARGO_OK : MARGO_EINVAL;
}

static int valid_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	}
	return 1;
}

int margo_http_request(struct margo_http_client *client, const char *method, const char *url,
		       const struct margo_http_header *headers, size_t nheaders, const void *body,
		       size_t body_len, struct margo_http_response *resp, struct margo_error *err)
{
	struct http_exchange x = { 0 };
	struct curl_slist *list = NULL, *tmp;
	char *line;
	CURLcode cc = CURLE_OK;
	int ret;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	x.resp = resp;
	if (client == NULL || !valid_token(method) || url == NULL)
		return margo_error_set(err, MARGO_EINVAL, "bad request arguments");
	if (nheaders > HTTP_REQUEST_HEADERS_MAX)
		return margo_error_set(err, MARGO_EINVAL, "too many request headers");
	/* Never wait for "100 Continue" before sending a body. */
	list = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; list != NULL && i < nheaders; i++) {
		if (!valid_token(headers[i].name) || headers[i].value == NULL ||
		    strpbrk(headers[i].value, "\r\n") != NULL) {
			ret = margo_error_set(err, MARGO_EINVAL, "bad request header");
			goto out;
		}
		if (asprintf(&line, "%s: %s", headers[i].name, headers[i].value) < 0) {
			ret = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		tmp = curl_slist_append(list, line);
		/* The header may hold a bearer token. */
		explicit_bzero(line, strlen(line));
		free(line);
		if (tmp == NULL) {
			ret = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		list = tmp;
	}
	if (list == NULL) {
		ret = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	client->errbuf[0] = '\0';
	ret = set_method(client->curl, method, body, body_len);
	if (ret != MARGO_OK) {
		margo_error_set(err, ret, "cannot set request method %s", method);
		goto out;
	}
	cc = curl_easy_setopt(client->curl, CURLOPT_URL, url);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, list);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(client->curl, CURLOPT_WRITEFUNCTION, write_cb);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(client->curl, CURLOPT_WRITEDATA, &x);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(client->curl, CURLOPT_HEADERFUNCTION, header_cb);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(client->curl, CURLOPT_HEADERDATA, &x);
	if (cc != CURLE_OK) {
		ret = margo_error_set(err, MARGO_EINVAL, "bad request: %s", curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(client->curl);
	if (x.nomem) {
		ret = margo_error_set(err, MARGO_ENOMEM, "out of memory reading the response");
		goto out;
	}
	if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		ret = margo_error_set(err, MARGO_ETOOBIG, "response larger than %u bytes",
				      MARGO_HTTP_RESPONSE_MAX);
		goto out;
	}
	if (cc != CURLE_OK) {
		ret = margo_error_set(err, MARGO_ENET, "%s %s: %s", method, url,
				      client->errbuf[0] ? client->errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK) {
		ret = margo_error_set(err, MARGO_EPROTO, "no HTTP status");
		goto out;
	}
	if (resp->body == NULL) {
		resp->body = calloc(1, 1);
		if (resp->body == NULL) {
			ret = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = MARGO_OK;
out:
	/* The header list may hold a bearer token: wipe it before it goes back to the heap. */
	for (tmp = list; tmp != NULL; tmp = tmp->next)
		explicit_bzero(tmp->data, strlen(tmp->data));
	curl_slist_free_all(list);
	if (client != NULL && client->curl != NULL)
		curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, NULL);
	if (ret != MARGO_OK)
		margo_http_response_free(resp);
	return ret;
}
