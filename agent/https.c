#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "https.h"
#include "https_explain.h"
#include "margo/base64.h"
#include "margo/token.h"

#define HTTPS_DEFAULT_CONNECT_TIMEOUT_S 10L
#define HTTPS_DEFAULT_TIMEOUT_S 30L
#define HTTPS_HOST_MAX 256
#define HTTPS_PORT_MAX 8
#define HTTPS_LINE_MAX 8192
#define HTTPS_HEADER_VALUE_MAX 4096
#define HTTPS_HEADER_LINES_MAX 200
#define HTTPS_REQUEST_HEADERS_MAX 32
#define HTTPS_RBUF 16384
/* A connection idle longer than this is not reused (a NAT or firewall may have dropped it
 * silently; libcurl's default is the same). */
#define HTTPS_IDLE_MAX_MS (118 * 1000)

struct endpoint {
	char host[HTTPS_HOST_MAX]; /* without IPv6 brackets */
	char port[HTTPS_PORT_MAX];
	int ip;                    /* host is an IP address literal */
};

struct agent_https {
	SSL_CTX *ctx;
	int insecure;
	long connect_timeout_s;
	long timeout_s;
	struct endpoint proxy;
	int has_proxy;
	char *proxy_auth;          /* "Basic <base64>" or NULL (secret) */
	/* the open connection, if any */
	int fd;
	SSL *ssl;
	struct endpoint peer;
	int64_t idle_since;        /* end of the last exchange, ms (CLOCK_MONOTONIC) */
	unsigned char rbuf[HTTPS_RBUF];
	size_t rpos, rlen;
	/* agent_https_parse_response: the answer comes from memory, not from a connection */
	const unsigned char *mem;
	size_t mem_len;
	char pinned[MARGO_FINGERPRINT_LEN]; /* the pinned CA's fingerprint, for messages */
	int no_time_check;         /* only while asking an expired-looking WFM for its Date */
	struct https_failure failure; /* the last verification failure (verify 0: none) */
};

/* What one exchange reads besides the response fields. */
struct reply {
	int64_t content_length; /* -1: absent */
	int chunked;
	int close;
	int http10;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "host[:port]" of an authority (IPv6 in brackets) into e; default_port when absent. */
static int parse_authority(const char *s, size_t len, const char *default_port, struct endpoint *e)
{
	const char *port = NULL;
	size_t hlen;

	memset(e, 0, sizeof(*e));
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL)
			return -1;
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= sizeof(e->host))
			return -1;
		memcpy(e->host, s + 1, hlen);
		if ((size_t)(close - s + 1) < len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		hlen = colon != NULL ? (size_t)(colon - s) : len;
		if (hlen == 0 || hlen >= sizeof(e->host))
			return -1;
		memcpy(e->host, s, hlen);
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		size_t plen = len - (size_t)(port - s);

		if (plen == 0 || plen >= sizeof(e->port) || strspn(port, "0123456789") < plen)
			return -1;
		memcpy(e->port, port, plen);
	} else {
		snprintf(e->port, sizeof(e->port), "%s", default_port);
	}
	{
		unsigned char a[16];

		e->ip = inet_pton(AF_INET, e->host, a) == 1 || inet_pton(AF_INET6, e->host, a) == 1;
	}
	return 0;
}

/* https://authority/path?query: the endpoint and where the request target starts ("/" when
 * the URL has no path). */
static int parse_url(const char *url, struct endpoint *e, const char **target)
{
	const char *auth, *end;

	if (strncasecmp(url, "https://", 8) != 0)
		return -1;
	auth = url + 8;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return -1; /* no credentials in URLs */
	if (parse_authority(auth, (size_t)(end - auth), "443", e) != 0)
		return -1;
	*target = *end == '/' ? end : NULL;
	return 0;
}

static int set_proxy(struct agent_https *c, const char *url, struct margo_error *err)
{
	const char *auth, *end, *at;

	if (strncasecmp(url, "http://", 7) != 0)
		return margo_error_set(err, MARGO_EUNSUPPORTED,
				       "https_proxy: only http:// proxies are supported");
	auth = url + 7;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at != NULL) {
		char *enc = margo_base64_encode(auth, (size_t)(at - auth), MARGO_BASE64_STD);

		if (enc == NULL || asprintf(&c->proxy_auth, "Basic %s", enc) < 0) {
			c->proxy_auth = NULL;
			margo_secret_free(enc);
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		}
		margo_secret_free(enc);
		auth = at + 1;
	}
	if (parse_authority(auth, (size_t)(end - auth), "80", &c->proxy) != 0)
		return margo_error_set(err, MARGO_EINVAL, "https_proxy: bad URL");
	c->has_proxy = 1;
	return MARGO_OK;
}

/* The PEM certificates of ca_pem into the context's (otherwise empty) store. */
static int load_ca(SSL_CTX *ctx, const char *ca_pem, struct margo_error *err)
{
	X509_STORE *store = X509_STORE_new();
	BIO *bio = BIO_new_mem_buf(ca_pem, -1);
	X509 *x;
	int n = 0, rc = MARGO_OK;

	if (store == NULL || bio == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) != 1)
			rc = margo_error_set(err, MARGO_EINVAL, "cannot add the CA to the trust store");
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (rc == 0 && n == 0)
		rc = margo_error_set(err, MARGO_EINVAL, "no certificate in the CA PEM");
	if (rc == 0) {
		/* the pinned CA is a trust anchor even when it is not self-signed (as with
		 * libcurl, which sets this flag by default) */
		X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
		SSL_CTX_set_cert_store(ctx, store);
		store = NULL;
	}
out:
	X509_STORE_free(store);
	BIO_free(bio);
	return rc;
}

int agent_tls_init(struct margo_error *err)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ATEXIT, NULL) != 1 ||
	    OPENSSL_init_ssl(0, NULL) != 1)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "cannot initialise OpenSSL");
	return MARGO_OK;
}

int agent_https_new(const struct margo_http_options *opts, struct agent_https **out,
		    struct margo_error *err)
{
	struct agent_https *c;
	int rc;

	*out = NULL;
	if (opts == NULL || (opts->ca_pem == NULL && !opts->insecure))
		return margo_error_set(err, MARGO_EINVAL,
				       "https client needs the CA certificate to trust");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	c->fd = -1;
	c->insecure = opts->insecure;
	c->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s
							   : HTTPS_DEFAULT_CONNECT_TIMEOUT_S;
	c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : HTTPS_DEFAULT_TIMEOUT_S;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "cannot create a TLS context");
		goto out;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* a peer closing without close_notify ends a body read to the end of the connection */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	if (!c->insecure) {
		rc = load_ca(c->ctx, opts->ca_pem, err);
		if (rc != 0)
			goto out;
		https_pinned_fingerprint(opts->ca_pem, c->pinned);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	if (opts->proxy != NULL && opts->proxy[0] != '\0') {
		rc = set_proxy(c, opts->proxy, err);
		if (rc != 0)
			goto out;
	}
	*out = c;
	return MARGO_OK;
out:
	agent_https_free(c);
	return rc;
}

static void conn_close(struct agent_https *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl); /* best effort, non-blocking */
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	c->rpos = c->rlen = 0;
	memset(&c->peer, 0, sizeof(c->peer));
}

void agent_https_free(struct agent_https *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	SSL_CTX_free(c->ctx);
	margo_secret_free(c->proxy_auth);
	OPENSSL_cleanse(c->rbuf, sizeof(c->rbuf)); /* held the token endpoint's answer */
	free(c);
}

/* Waits until fd is readable (or writable); 0, or -1 when the deadline passed. */
static int wait_fd(int fd, int for_write, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = for_write ? POLLOUT : POLLIN };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int tcp_connect(const struct endpoint *e, int64_t deadline, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, r, one = 1, soerr;
	socklen_t sl;

	r = getaddrinfo(e->host, e->port, &hints, &res);
	if (r != 0) {
		snprintf(why, whylen, "cannot resolve %.64s: %s", e->host, gai_strerror(r));
		return -1;
	}
	snprintf(why, whylen, "cannot connect to %.64s port %s", e->host, e->port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			if (wait_fd(fd, 1, deadline) != 0) {
				snprintf(why, whylen, "connection to %.64s port %s timed out", e->host,
					 e->port);
				close(fd);
				fd = -1;
				break;
			}
			sl = sizeof(soerr);
			r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ? -1
			    : soerr != 0 ? (errno = soerr, -1) : 0;
		}
		if (r == 0)
			break;
		snprintf(why, whylen, "cannot connect to %.64s port %s: %s", e->host, e->port,
			 strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads what is there (at most n bytes): >0 bytes, 0 at the end of the stream, -1 on error
 * or time-out (why says which). */
static ssize_t conn_read(struct agent_https *c, void *buf, size_t n, int64_t deadline,
			 char *why, size_t whylen)
{
	if (c->mem != NULL) {
		size_t take = c->mem_len < n ? c->mem_len : n;

		memcpy(buf, c->mem, take);
		c->mem += take;
		c->mem_len -= take;
		return (ssize_t)take;
	}
	for (;;) {
		size_t got = 0;
		ssize_t r;
		int e;

		if (c->ssl == NULL) {
			r = recv(c->fd, buf, n, 0);
			if (r >= 0)
				return r;
			if (errno != EAGAIN && errno != EINTR) {
				snprintf(why, whylen, "receive failed: %s", strerror(errno));
				return -1;
			}
			e = SSL_ERROR_WANT_READ;
		} else {
			if (SSL_read_ex(c->ssl, buf, n, &got) == 1)
				return (ssize_t)got;
			e = SSL_get_error(c->ssl, 0);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				snprintf(why, whylen, "TLS receive failed: %s",
					 ERR_reason_error_string(ERR_peek_last_error()) != NULL
						 ? ERR_reason_error_string(ERR_peek_last_error())
						 : "connection reset");
				ERR_clear_error();
				return -1;
			}
		}
		if (wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE, deadline) != 0) {
			snprintf(why, whylen, "timed out waiting for the answer");
			return -1;
		}
	}
}

static int conn_write(struct agent_https *c, const void *buf, size_t n, int64_t deadline,
		      char *why, size_t whylen)
{
	const char *p = buf;

	while (n > 0) {
		size_t done = 0;
		ssize_t r;
		int e;

		if (c->ssl == NULL) {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r >= 0) {
				p += r;
				n -= (size_t)r;
				continue;
			}
			if (errno != EAGAIN && errno != EINTR) {
				snprintf(why, whylen, "send failed: %s", strerror(errno));
				return -1;
			}
			e = SSL_ERROR_WANT_WRITE;
		} else {
			if (SSL_write_ex(c->ssl, p, n, &done) == 1) {
				p += done;
				n -= done;
				continue;
			}
			e = SSL_get_error(c->ssl, 0);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				snprintf(why, whylen, "TLS send failed");
				ERR_clear_error();
				return -1;
			}
		}
		if (wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE, deadline) != 0) {
			snprintf(why, whylen, "timed out sending the request");
			return -1;
		}
	}
	return 0;
}

/* One line (CRLF or LF stripped) from the buffered stream; -1 on error, end of stream or a
 * line longer than cap - 1. */
static int read_line(struct agent_https *c, char *line, size_t cap, int64_t deadline, char *why,
		     size_t whylen)
{
	size_t len = 0;

	for (;;) {
		while (c->rpos < c->rlen) {
			char ch = (char)c->rbuf[c->rpos++];

			if (ch == '\n') {
				if (len > 0 && line[len - 1] == '\r')
					len--;
				line[len] = '\0';
				return 0;
			}
			if (len + 1 >= cap) {
				snprintf(why, whylen, "response header line too long");
				return -1;
			}
			line[len++] = ch;
		}
		ssize_t r = conn_read(c, c->rbuf, sizeof(c->rbuf), deadline, why, whylen);

		if (r <= 0) {
			if (r == 0)
				snprintf(why, whylen, "connection closed by the server");
			return -1;
		}
		c->rpos = 0;
		c->rlen = (size_t)r;
	}
}

/* CONNECT through the proxy: the tunnel answers 2xx, then TLS runs inside it. */
static int proxy_connect(struct agent_https *c, const struct endpoint *e, int64_t deadline,
			 char *why, size_t whylen)
{
	char line[HTTPS_LINE_MAX], *req = NULL;
	int n, status = 0, rc = -1;
	const char *fmt = strchr(e->host, ':') != NULL ? "[%s]:%s" : "%s:%s";
	char hp[HTTPS_HOST_MAX + HTTPS_PORT_MAX + 4];

	snprintf(hp, sizeof(hp), fmt, e->host, e->port);
	n = asprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", hp, hp,
		     c->proxy_auth != NULL ? "Proxy-Authorization: " : "",
		     c->proxy_auth != NULL ? c->proxy_auth : "", c->proxy_auth != NULL ? "\r\n" : "");
	if (n < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (conn_write(c, req, (size_t)n, deadline, why, whylen) != 0 ||
	    read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
		goto out;
	if (sscanf(line, "HTTP/%*d.%*d %d", &status) != 1 || status < 200 || status > 299) {
		snprintf(why, whylen, "proxy refused CONNECT %.70s: %.40s", hp, line);
		goto out;
	}
	do {
		if (read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
			goto out;
	} while (line[0] != '\0');
	rc = 0;
out:
	OPENSSL_cleanse(req, (size_t)(n > 0 ? n : 0));
	free(req);
	return rc;
}

static int tls_handshake(struct agent_https *c, const struct endpoint *e, int64_t deadline,
			 char *why, size_t whylen)
{
	int r, err;

	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		snprintf(why, whylen, "cannot create a TLS connection");
		return -1;
	}
	if (!e->ip && SSL_set_tlsext_host_name(c->ssl, e->host) != 1) {
		snprintf(why, whylen, "bad host name for TLS");
		return -1;
	}
	if (!c->insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (c->no_time_check)
			X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_NO_CHECK_TIME);
		if ((e->ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, e->host)
			   : X509_VERIFY_PARAM_set1_host(vp, e->host, 0)) != 1) {
			snprintf(why, whylen, "cannot set the name to verify");
			return -1;
		}
	}
	for (;;) {
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		err = SSL_get_error(c->ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			break;
		if (wait_fd(c->fd, err == SSL_ERROR_WANT_WRITE, deadline) != 0) {
			snprintf(why, whylen, "TLS handshake with %.64s timed out", e->host);
			return -1;
		}
	}
	if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
		memset(&c->failure, 0, sizeof(c->failure));
		https_failure_capture(&c->failure, c->ssl);
		c->failure.host = e->host;
		memcpy(c->failure.pinned, c->pinned, sizeof(c->pinned));
		https_failure_explain(&c->failure, why, whylen);
	} else
		snprintf(why, whylen, "TLS handshake with %.64s failed: %s", e->host,
			 ERR_reason_error_string(ERR_peek_last_error()) != NULL
				 ? ERR_reason_error_string(ERR_peek_last_error())
				 : "connection closed");
	ERR_clear_error();
	return -1;
}

static int conn_open(struct agent_https *c, const struct endpoint *e, char *why, size_t whylen)
{
	int64_t deadline = now_ms() + c->connect_timeout_s * 1000;

	conn_close(c);
	c->fd = tcp_connect(c->has_proxy ? &c->proxy : e, deadline, why, whylen);
	if (c->fd < 0)
		return -1;
	if ((c->has_proxy && proxy_connect(c, e, deadline, why, whylen) != 0) ||
	    tls_handshake(c, e, deadline, why, whylen) != 0) {
		conn_close(c);
		return -1;
	}
	c->rpos = c->rlen = 0;
	c->peer = *e;
	return 0;
}

/* An idle kept-alive connection is usable when it goes to the same place, is not too old
 * and the server has sent nothing since (no close). */
static int conn_idle_ok(struct agent_https *c, const struct endpoint *e)
{
	struct pollfd p;

	if (c->ssl == NULL || strcmp(c->peer.host, e->host) != 0 ||
	    strcmp(c->peer.port, e->port) != 0 || c->rpos != c->rlen ||
	    now_ms() - c->idle_since > HTTPS_IDLE_MAX_MS)
		return 0;
	p = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	return poll(&p, 1, 0) == 0;
}

/* An RFC 9110 token (method, header name). */
static int valid_token(const char *s)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	return s != NULL && *s != '\0' && s[strspn(s, tchar)] == '\0';
}

/* The request head and body in one buffer (small requests: one write). */
static char *build_request(const char *method, const struct endpoint *e, const char *target,
			   const struct margo_http_header *headers, size_t nheaders,
			   const void *body, size_t body_len, size_t *len)
{
	FILE *f;
	char *buf = NULL;
	size_t size = 0;
	int with_body = body != NULL || strcmp(method, "POST") == 0 ||
			strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

	f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	fprintf(f, "%s %s HTTP/1.1\r\nHost: ", method, target != NULL ? target : "/");
	fprintf(f, strchr(e->host, ':') != NULL ? "[%s]" : "%s", e->host);
	if (strcmp(e->port, "443") != 0)
		fprintf(f, ":%s", e->port);
	fprintf(f, "\r\nUser-Agent: margo-fleet/%s\r\n", MARGO_VERSION);
	for (size_t i = 0; i < nheaders; i++)
		fprintf(f, "%s: %s\r\n", headers[i].name, headers[i].value);
	if (with_body)
		fprintf(f, "Content-Length: %zu\r\n", body != NULL ? body_len : 0);
	fputs("\r\n", f);
	if (body != NULL && body_len > 0)
		fwrite(body, 1, body_len, f);
	if (fclose(f) != 0 || buf == NULL) {
		if (buf != NULL)
			OPENSSL_cleanse(buf, size);
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* Margo-Poll-Interval: delta-seconds from 1 to 7 days; 0 for anything else. */
static long poll_interval(const char *v)
{
	char *end;
	long secs;

	if (!isdigit((unsigned char)*v))
		return 0;
	secs = strtol(v, &end, 10);
	return *end == '\0' && secs >= 1 && secs <= 7 * 86400 ? secs : 0;
}

/* An IMF-fixdate (RFC 9110 5.6.7) in Unix seconds; -1 if it is not one. */
static int64_t http_date(const char *v)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* Retry-After (RFC 9110 10.2.3): delta-seconds or an IMF-fixdate; seconds from now. A date is
 * taken relative to the answer's Date when there is one, so a wrong device clock does not
 * stretch or shrink the wait. */
static long retry_after(const char *v, int64_t server_now)
{
	char *end;
	long secs;
	int64_t when, now;

	if (isdigit((unsigned char)*v)) {
		secs = strtol(v, &end, 10);
		return *end == '\0' && secs >= 0 ? secs : -1;
	}
	when = http_date(v);
	if (when < 0)
		return -1;
	now = server_now > 0 ? server_now : (int64_t)time(NULL);
	return when > now ? (long)(when - now) : 0;
}

static int keep(char **slot, const char *v)
{
	char *s;

	if (strlen(v) > HTTPS_HEADER_VALUE_MAX)
		return 0;
	s = strdup(v);
	if (s == NULL)
		return -1;
	free(*slot);
	*slot = s;
	return 0;
}

/* Status line and headers (1xx answers skipped). */
static int read_head(struct agent_https *c, struct margo_http_response *resp, struct reply *rp,
		     int64_t deadline, char *why, size_t whylen)
{
	char line[HTTPS_LINE_MAX];
	int minor, status, lines = 0;

	do {
		if (read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
			return -1;
		if (sscanf(line, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100 ||
		    status > 999) {
			snprintf(why, whylen, "not an HTTP/1.x answer");
			return -1;
		}
		memset(rp, 0, sizeof(*rp));
		rp->content_length = -1;
		rp->http10 = minor == 0;
		for (;;) {
			char *colon, *v, *e;

			if (read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
				return -1;
			if (line[0] == '\0')
				break;
			if (++lines > HTTPS_HEADER_LINES_MAX) {
				snprintf(why, whylen, "too many response headers");
				return -1;
			}
			colon = strchr(line, ':');
			if (colon == NULL)
				continue;
			*colon = '\0';
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
				;
			*e = '\0';
			if (strcasecmp(line, "Content-Length") == 0) {
				char *end;
				long long n = strtoll(v, &end, 10);

				if (*v == '\0' || *end != '\0' || n < 0) {
					snprintf(why, whylen, "bad Content-Length");
					return -1;
				}
				rp->content_length = n;
			} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
				rp->chunked = strcasestr(v, "chunked") != NULL;
			} else if (strcasecmp(line, "Connection") == 0) {
				rp->close = strcasestr(v, "close") != NULL;
			} else if (strcasecmp(line, "Retry-After") == 0) {
				resp->retry_after = retry_after(v, resp->date);
			} else if (strcasecmp(line, "Margo-Poll-Interval") == 0) {
				resp->poll_interval = poll_interval(v);
			} else if (strcasecmp(line, "Date") == 0) {
				resp->date = http_date(v) > 0 ? http_date(v) : 0;
			} else if ((strcasecmp(line, "Content-Type") == 0 &&
				    keep(&resp->content_type, v) != 0) ||
				   (strcasecmp(line, "Location") == 0 && keep(&resp->location, v) != 0) ||
				   (strcasecmp(line, "WWW-Authenticate") == 0 &&
				    keep(&resp->www_authenticate, v) != 0) ||
				   (strcasecmp(line, "ETag") == 0 && keep(&resp->etag, v) != 0)) {
				snprintf(why, whylen, "out of memory");
				return -1;
			}
		}
	} while (status < 200);
	resp->status = status;
	return 0;
}

/* Appends n body bytes (n < 0: up to the end of the stream). */
static int read_body(struct agent_https *c, struct margo_http_response *resp, int64_t n,
		     int64_t deadline, int *too_big, char *why, size_t whylen)
{
	while (n != 0) {
		size_t avail, take;
		char *nb;

		if (c->rpos == c->rlen) {
			ssize_t r = conn_read(c, c->rbuf, sizeof(c->rbuf), deadline, why, whylen);

			if (r < 0)
				return -1;
			if (r == 0) {
				if (n < 0)
					return 0;
				snprintf(why, whylen, "connection closed in the middle of the body");
				return -1;
			}
			c->rpos = 0;
			c->rlen = (size_t)r;
		}
		avail = c->rlen - c->rpos;
		take = n >= 0 && (uint64_t)n < avail ? (size_t)n : avail;
		if (resp->body_len + take > MARGO_HTTP_RESPONSE_MAX) {
			*too_big = 1;
			return -1;
		}
		nb = realloc(resp->body, resp->body_len + take + 1);
		if (nb == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		resp->body = nb;
		memcpy(resp->body + resp->body_len, c->rbuf + c->rpos, take);
		resp->body_len += take;
		resp->body[resp->body_len] = '\0';
		c->rpos += take;
		if (n > 0)
			n -= (int64_t)take;
	}
	return 0;
}

static int read_chunked(struct agent_https *c, struct margo_http_response *resp,
			int64_t deadline, int *too_big, char *why, size_t whylen)
{
	char line[HTTPS_LINE_MAX], *end;
	unsigned long long size;

	for (;;) {
		if (read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
			return -1;
		errno = 0;
		size = strtoull(line, &end, 16);
		if (end == line || errno != 0 || (*end != '\0' && *end != ';' && *end != ' ')) {
			snprintf(why, whylen, "bad chunk size");
			return -1;
		}
		if (size > MARGO_HTTP_RESPONSE_MAX) {
			*too_big = 1;
			return -1;
		}
		if (size == 0)
			break;
		if (read_body(c, resp, (int64_t)size, deadline, too_big, why, whylen) != 0 ||
		    read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
			return -1;
	}
	do { /* trailers */
		if (read_line(c, line, sizeof(line), deadline, why, whylen) != 0)
			return -1;
	} while (line[0] != '\0');
	return 0;
}

/* The body after the head, as the method, status and head ask for. */
static int read_response_body(struct agent_https *c, const char *method,
			      struct margo_http_response *resp, struct reply *rp, int64_t deadline,
			      int *too_big, char *why, size_t whylen)
{
	int rc = 0;

	if (strcmp(method, "HEAD") == 0 || resp->status == 204 || resp->status == 304) {
		/* no body */
	} else if (rp->chunked) {
		rc = read_chunked(c, resp, deadline, too_big, why, whylen);
	} else if (rp->content_length > (int64_t)MARGO_HTTP_RESPONSE_MAX) {
		*too_big = 1;
		rc = -1;
	} else {
		rc = read_body(c, resp, rp->content_length, deadline, too_big, why, whylen);
		if (rp->content_length < 0)
			rp->close = 1; /* the body ended with the connection */
	}
	return rc;
}

int agent_https_parse_response(const char *method, const void *data, size_t len,
			       struct margo_http_response *resp, struct margo_error *err)
{
	struct agent_https *c;
	struct reply rp;
	char why[MARGO_ERROR_MSG_MAX] = "";
	int rc, too_big = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	c->fd = -1;
	c->mem = data != NULL ? data : (const void *)"";
	c->mem_len = len;
	rc = read_head(c, resp, &rp, INT64_MAX, why, sizeof(why));
	if (rc == 0)
		rc = read_response_body(c, method, resp, &rp, INT64_MAX, &too_big, why,
					sizeof(why));
	if (rc == 0 && resp->body == NULL && (resp->body = calloc(1, 1)) == NULL)
		snprintf(why, sizeof(why), "out of memory");
	free(c);
	if (rc == 0 && resp->body != NULL)
		return MARGO_OK;
	margo_http_response_free(resp);
	if (too_big)
		return margo_error_set(err, MARGO_ETOOBIG, "response larger than %u bytes",
				       MARGO_HTTP_RESPONSE_MAX);
	return margo_error_set(err, MARGO_ENET, "%s", why);
}

int agent_https_trust_failed(const struct agent_https *c)
{
	return c != NULL && c->failure.verify != 0;
}

/* The WFM's certificate looked expired or not yet valid: is it, or is this device's clock
 * wrong? Asks the same server, verified in every way but time, for its Date (a GET / with no
 * credential, on a connection closed right after) and explains the failure with it. */
static void explain_with_date(struct agent_https *c, const struct endpoint *e, char *why,
			      size_t whylen)
{
	struct https_failure f = c->failure;
	struct margo_http_response resp = { 0 };
	struct reply rp;
	char ignored[MARGO_ERROR_MSG_MAX], *req;
	size_t req_len = 0;
	int64_t deadline = now_ms() + c->connect_timeout_s * 1000;

	c->no_time_check = 1;
	req = build_request("GET", e, "/", NULL, 0, NULL, 0, &req_len);
	if (req != NULL && conn_open(c, e, ignored, sizeof(ignored)) == 0 &&
	    conn_write(c, req, req_len, deadline, ignored, sizeof(ignored)) == 0 &&
	    read_head(c, &resp, &rp, deadline, ignored, sizeof(ignored)) == 0)
		f.server_date = resp.date;
	c->no_time_check = 0;
	conn_close(c);
	free(req);
	margo_http_response_free(&resp);
	f.host = e->host;
	https_failure_explain(&f, why, whylen);
}

int agent_https_request(struct agent_https *c, const char *method, const char *url,
			const struct margo_http_header *headers, size_t nheaders, const void *body,
			size_t body_len, struct margo_http_response *resp, struct margo_error *err)
{
	struct endpoint e;
	struct reply rp;
	const char *target;
	char why[MARGO_ERROR_MSG_MAX] = "", *req = NULL;
	size_t req_len = 0;
	int64_t deadline;
	int rc, too_big = 0, reused;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (c == NULL || !valid_token(method) || url == NULL)
		return margo_error_set(err, MARGO_EINVAL, "bad request arguments");
	if (nheaders > HTTPS_REQUEST_HEADERS_MAX)
		return margo_error_set(err, MARGO_EINVAL, "too many request headers");
	for (size_t i = 0; i < nheaders; i++)
		if (!valid_token(headers[i].name) || headers[i].value == NULL ||
		    strpbrk(headers[i].value, "\r\n") != NULL)
			return margo_error_set(err, MARGO_EINVAL, "bad request header");
	if (parse_url(url, &e, &target) != 0 || (target != NULL && strpbrk(target, " \r\n") != NULL))
		return margo_error_set(err, MARGO_ENET, "%s %s: not an https URL", method, url);
	req = build_request(method, &e, target, headers, nheaders, body, body_len, &req_len);
	if (req == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	deadline = now_ms() + c->timeout_s * 1000;
	reused = conn_idle_ok(c, &e);
	for (;;) {
		c->failure.verify = 0;
		if (!reused && conn_open(c, &e, why, sizeof(why)) != 0) {
			if (https_failure_is_time(&c->failure))
				explain_with_date(c, &e, why, sizeof(why));
			rc = MARGO_ENET;
			goto out;
		}
		if (conn_write(c, req, req_len, deadline, why, sizeof(why)) == 0 &&
		    read_head(c, resp, &rp, deadline, why, sizeof(why)) == 0)
			break;
		/* a kept-alive connection the server had closed: once more on a new one */
		if (!reused || resp->status != 0) {
			rc = MARGO_ENET;
			goto out;
		}
		margo_http_response_free(resp);
		reused = 0;
	}
	rc = read_response_body(c, method, resp, &rp, deadline, &too_big, why, sizeof(why));
	if (rc != 0) {
		rc = too_big ? MARGO_ETOOBIG : MARGO_ENET;
		goto out;
	}
	if (rp.close || rp.http10)
		conn_close(c);
	else
		c->idle_since = now_ms();
	if (resp->body == NULL && (resp->body = calloc(1, 1)) == NULL) {
		rc = MARGO_ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
	}
out:
	OPENSSL_cleanse(req, req_len);
	free(req);
	if (rc != 0) {
		conn_close(c);
		margo_http_response_free(resp);
		if (rc == MARGO_ETOOBIG)
			return margo_error_set(err, rc, "response larger than %u bytes",
					       MARGO_HTTP_RESPONSE_MAX);
		return margo_error_set(err, rc, "%s %s: %s", method, url, why);
	}
	return MARGO_OK;
}
