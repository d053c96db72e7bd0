/* margo_http_* against a real TLS server on 127.0.0.1 (OpenSSL, one thread per connection)
 * with certificates made here. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "margo/error.h"
#include "margo/httpc.h"

#define MAX_CONNS 64

struct test_server {
	int listen_fd;
	int port;
	SSL_CTX *ctx;
	pthread_t thread;
	volatile int stop;
	pthread_mutex_t lock;
	int accepted;
	pthread_t conns[MAX_CONNS];
	int nconns;
	char last_request[8192];
};

struct conn_arg {
	struct test_server *srv;
	int fd;
};

/* Certificates shared by the tests. */
static EVP_PKEY *ca_key, *other_ca_key;
static X509 *ca_cert, *other_ca_cert;
static char *ca_pem, *other_ca_pem;
static struct test_server good_srv, wrong_name_srv;
static char tmpdir[64];

/* ---- certificates ---- */

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *san)
{
	static long serial = 1;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_pubkey(c, key);
	if (issuer == NULL) {
		add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(c, c, NID_subject_key_identifier, "hash");
	} else {
		add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(c, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(c, issuer, NID_subject_alt_name, san);
		add_ext(c, issuer, NID_authority_key_identifier, "keyid");
	}
	assert_true(X509_sign(c, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return c;
}

static char *cert_pem(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_int_equal(PEM_write_bio_X509(b, c), 1);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

/* ---- server ---- */

static int read_request(SSL *ssl, char *buf, size_t cap, size_t *len)
{
	size_t n = 0, body_len = 0;
	char *end = NULL, *cl;

	while (end == NULL) {
		int r;

		if (n + 1 >= cap)
			return -1;
		r = SSL_read(ssl, buf + n, (int)(cap - n - 1));
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl != NULL && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	while (n < (size_t)(end + 4 - buf) + body_len) {
		int r;

		if (n + 1 >= cap)
			return -1;
		r = SSL_read(ssl, buf + n, (int)(cap - n - 1));
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
	}
	*len = n;
	return 0;
}

static int write_all(SSL *ssl, const char *data, size_t len)
{
	while (len > 0) {
		int r = SSL_write(ssl, data, (int)(len > 65536 ? 65536 : len));

		if (r <= 0)
			return -1;
		data += r;
		len -= (size_t)r;
	}
	return 0;
}

static int respond(SSL *ssl, int status, const char *extra_headers, const char *body,
		   size_t body_len)
{
	char head[2048];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, body_len,
			 extra_headers != NULL ? extra_headers : "");

	if (write_all(ssl, head, (size_t)n) != 0)
		return -1;
	return write_all(ssl, body, body_len);
}

static int handle(struct test_server *srv, SSL *ssl, char *req, size_t len)
{
	char path[256] = "", method[16] = "", body[8192], hdrs[512];
	const char *req_body = strstr(req, "\r\n\r\n") + 4;
	char *x;

	(void)len;
	if (sscanf(req, "%15s %255s", method, path) != 2)
		return -1;
	pthread_mutex_lock(&srv->lock);
	snprintf(srv->last_request, sizeof(srv->last_request), "%s", req);
	pthread_mutex_unlock(&srv->lock);
	if (strcmp(path, "/echo") == 0) {
		int n = snprintf(body, sizeof(body), "%s %s", method, req_body);

		return respond(ssl, 200, "Content-Type: text/plain\r\n", body, (size_t)n);
	}
	if (strcmp(path, "/headers") == 0)
		return respond(ssl, 201,
			       "Content-Type: application/json\r\nLocation: /things/42\r\n"
			       "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
			       "ETag:  \"rev-7\"  \r\nRetry-After: 120\r\n",
			       "{}", 2);
	if (strcmp(path, "/retry-date") == 0) {
		time_t when = time(NULL) + 90;
		struct tm tm;
		char date[64];

		gmtime_r(&when, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(hdrs, sizeof(hdrs), "Retry-After: %s\r\n", date);
		return respond(ssl, 503, hdrs, "", 0);
	}
	if (strcmp(path, "/retry-past") == 0)
		return respond(ssl, 429, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "", 0);
	if (strcmp(path, "/retry-bad") == 0)
		return respond(ssl, 429, "Retry-After: soon\r\n", "", 0);
	if (strcmp(path, "/redirect") == 0)
		return respond(ssl, 302, "Location: https://127.0.0.1:1/elsewhere\r\n", "", 0);
	if (strcmp(path, "/empty") == 0)
		return respond(ssl, 204, NULL, "", 0);
	if (strcmp(path, "/big") == 0 || strcmp(path, "/limit") == 0) {
		size_t n = MARGO_HTTP_RESPONSE_MAX + (strcmp(path, "/big") == 0 ? 1 : 0);
		char *big = malloc(n);
		int r;

		assert_non_null(big);
		memset(big, 'a', n);
		r = respond(ssl, 200, NULL, big, n);
		free(big);
		return r;
	}
	if (strcmp(path, "/slow") == 0) {
		sleep(3);
		return respond(ssl, 200, NULL, "late", 4);
	}
	if (strcmp(path, "/header-echo") == 0) {
		x = strcasestr(req, "\r\nX-Test: ");
		if (x == NULL)
			return respond(ssl, 400, NULL, "no header", 9);
		x += 10;
		return respond(ssl, 200, NULL, x, strcspn(x, "\r"));
	}
	x = "{\"title\":\"Not Found\",\"status\":404,\"detail\":\"nothing here\"}";
	return respond(ssl, 404, "Content-Type: application/problem+json\r\n", x, strlen(x));
}

static void *conn_main(void *p)
{
	struct conn_arg *a = p;
	SSL *ssl = SSL_new(a->srv->ctx);
	char *req = malloc(65536);
	size_t len;

	if (ssl != NULL && req != NULL && SSL_set_fd(ssl, a->fd) == 1 && SSL_accept(ssl) == 1) {
		while (read_request(ssl, req, 65536, &len) == 0) {
			if (handle(a->srv, ssl, req, len) != 0)
				break;
		}
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	free(req);
	close(a->fd);
	free(a);
	return NULL;
}

static void *server_main(void *p)
{
	struct test_server *srv = p;

	while (!srv->stop) {
		struct pollfd pfd = { .fd = srv->listen_fd, .events = POLLIN };
		struct timeval tv = { .tv_sec = 5 };
		struct conn_arg *a;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(srv->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		a = malloc(sizeof(*a));
		a->srv = srv;
		a->fd = fd;
		pthread_mutex_lock(&srv->lock);
		if (srv->nconns < MAX_CONNS &&
		    pthread_create(&srv->conns[srv->nconns], NULL, conn_main, a) == 0) {
			srv->nconns++;
			srv->accepted++;
		} else {
			close(fd);
			free(a);
		}
		pthread_mutex_unlock(&srv->lock);
	}
	return NULL;
}

static void server_start(struct test_server *srv, const char *san)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	EVP_PKEY *key = new_key();
	X509 *cert = make_cert(key, "test server", ca_cert, ca_key, san);
	int one = 1;

	memset(srv, 0, sizeof(*srv));
	pthread_mutex_init(&srv->lock, NULL);
	srv->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(srv->ctx);
	assert_int_equal(SSL_CTX_use_certificate(srv->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(srv->ctx, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(srv->listen_fd >= 0);
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(srv->listen_fd, 16), 0);
	assert_int_equal(getsockname(srv->listen_fd, (struct sockaddr *)&addr, &alen), 0);
	srv->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&srv->thread, NULL, server_main, srv), 0);
}

static void server_stop(struct test_server *srv)
{
	srv->stop = 1;
	pthread_join(srv->thread, NULL);
	for (int i = 0; i < srv->nconns; i++)
		pthread_join(srv->conns[i], NULL);
	close(srv->listen_fd);
	SSL_CTX_free(srv->ctx);
	pthread_mutex_destroy(&srv->lock);
}

static int server_accepted(struct test_server *srv)
{
	int n;

	pthread_mutex_lock(&srv->lock);
	n = srv->accepted;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

static void url(char *out, size_t cap, struct test_server *srv, const char *host, const char *path)
{
	snprintf(out, cap, "https://%s:%d%s", host, srv->port, path);
}

static struct margo_http_client *client_with(const char *pem, int insecure, const char *proxy,
					     long timeout)
{
	struct margo_http_options o = { .ca_pem = pem, .insecure = insecure, .proxy = proxy,
					.timeout_s = timeout, .connect_timeout_s = 2 };
	struct margo_http_client *c = NULL;
	struct margo_error err = { 0 };

	if (margo_http_client_new(&o, &c, &err) != MARGO_OK)
		fail_msg("client_new: %s", err.message);
	return c;
}

/* ---- tests ---- */

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	ca_key = new_key();
	ca_cert = make_cert(ca_key, "test CA", NULL, NULL, NULL);
	ca_pem = cert_pem(ca_cert);
	other_ca_key = new_key();
	other_ca_cert = make_cert(other_ca_key, "test CA", NULL, NULL, NULL);
	other_ca_pem = cert_pem(other_ca_cert);
	server_start(&good_srv, "DNS:localhost,IP:127.0.0.1");
	server_start(&wrong_name_srv, "DNS:wfm.example,IP:10.9.9.9");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_httpc.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int group_teardown(void **state)
{
	char path[128];

	(void)state;
	server_stop(&good_srv);
	server_stop(&wrong_name_srv);
	snprintf(path, sizeof(path), "%s/bundle.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	free(ca_pem);
	free(other_ca_pem);
	X509_free(ca_cert);
	X509_free(other_ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_ca_key);
	return 0;
}

static void test_get_post_and_keepalive(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	struct margo_http_header h[] = { { "Content-Type", "application/json" } };
	char u[128];
	int before = server_accepted(&good_srv);

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET ");
	assert_string_equal(r.content_type, "text/plain");
	assert_int_equal(r.retry_after, -1);
	assert_null(r.location);
	margo_http_response_free(&r);

	assert_int_equal(margo_http_request(c, "POST", u, h, 1, "{\"a\":1}", 7, &r, &err),
			 MARGO_OK);
	assert_string_equal(r.body, "POST {\"a\":1}");
	assert_int_equal(r.body_len, strlen("POST {\"a\":1}"));
	margo_http_response_free(&r);
	assert_non_null(strstr(good_srv.last_request, "Content-Type: application/json"));
	assert_null(strstr(good_srv.last_request, "Expect:"));

	/* Empty POST sends Content-Length: 0; PUT and DELETE use their own verbs. */
	assert_int_equal(margo_http_request(c, "POST", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "POST ");
	margo_http_response_free(&r);
	assert_non_null(strstr(good_srv.last_request, "Content-Length: 0"));
	assert_int_equal(margo_http_request(c, "PUT", u, NULL, 0, "x", 1, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "PUT x");
	margo_http_response_free(&r);
	assert_int_equal(margo_http_request(c, "DELETE", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "DELETE ");
	margo_http_response_free(&r);
	/* A body with any verb is sent with that verb; PUT without a body sends an empty one. */
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, "q", 1, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "GET q");
	margo_http_response_free(&r);
	assert_int_equal(margo_http_request(c, "DELETE", u, NULL, 0, "why", 3, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "DELETE why");
	margo_http_response_free(&r);
	assert_int_equal(margo_http_request(c, "PUT", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "PUT ");
	margo_http_response_free(&r);
	assert_non_null(strstr(good_srv.last_request, "Content-Length: 0"));
	assert_int_equal(margo_http_request(c, "OPTIONS", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "OPTIONS ");
	margo_http_response_free(&r);
	/* Back to GET after a custom verb on the same handle. */
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_string_equal(r.body, "GET ");
	margo_http_response_free(&r);

	/* Ten requests, one TLS connection. */
	assert_int_equal(server_accepted(&good_srv) - before, 1);
	margo_http_client_free(c);
}

static void test_localhost_name(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "localhost", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 200);
	margo_http_response_free(&r);
	margo_http_client_free(c);
}

static void test_response_headers(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/headers");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.location, "/things/42");
	assert_string_equal(r.www_authenticate, "Bearer error=\"invalid_token\"");
	assert_string_equal(r.etag, "\"rev-7\"");
	assert_int_equal(r.retry_after, 120);
	margo_http_response_free(&r);
	assert_null(r.body);
	assert_int_equal(r.retry_after, -1);

	url(u, sizeof(u), &good_srv, "127.0.0.1", "/retry-date");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 503);
	assert_true(r.retry_after >= 85 && r.retry_after <= 90);
	/* Headers of the previous response do not leak into this one. */
	assert_null(r.location);
	assert_null(r.etag);
	assert_string_equal(r.body, "");
	assert_int_equal(r.body_len, 0);
	margo_http_response_free(&r);

	url(u, sizeof(u), &good_srv, "127.0.0.1", "/retry-past");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.retry_after, 0);
	margo_http_response_free(&r);
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/retry-bad");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.retry_after, -1);
	margo_http_response_free(&r);

	/* HEAD and 204 give an empty, NUL-terminated body. */
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/empty");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.body, "");
	margo_http_response_free(&r);
	margo_http_client_free(c);
}

static void test_request_headers(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	struct margo_http_header h[] = { { "X-Test", "value 1" } };
	struct margo_http_header bad[] = { { "X-Test", "a\r\nInjected: yes" } };
	struct margo_http_header badname[] = { { "X Test", "v" } };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/header-echo");
	assert_int_equal(margo_http_request(c, "GET", u, h, 1, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "value 1");
	margo_http_response_free(&r);
	/* Headers do not stick to the handle. */
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 400);
	margo_http_response_free(&r);
	assert_int_equal(margo_http_request(c, "GET", u, bad, 1, NULL, 0, &r, &err), MARGO_EINVAL);
	assert_int_equal(margo_http_request(c, "GET", u, badname, 1, NULL, 0, &r, &err),
			 MARGO_EINVAL);
	assert_int_equal(margo_http_request(c, "G T", u, NULL, 0, NULL, 0, &r, &err), MARGO_EINVAL);
	margo_http_client_free(c);
}

static void test_no_redirect(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/redirect");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 302);
	assert_string_equal(r.location, "https://127.0.0.1:1/elsewhere");
	margo_http_response_free(&r);
	margo_http_client_free(c);
}

static void test_size_limit(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 20);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/limit");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.body_len, MARGO_HTTP_RESPONSE_MAX);
	assert_int_equal(r.body[r.body_len], '\0');
	margo_http_response_free(&r);
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/big");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err),
			 MARGO_ETOOBIG);
	assert_null(r.body);
	margo_http_client_free(c);
}

static void test_timeout(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 1);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];
	time_t t0 = time(NULL);

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/slow");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	assert_true(time(NULL) - t0 <= 2);
	assert_non_null(strstr(err.message, "timed out"));
	margo_http_client_free(c);
}

static void test_wrong_ca_fails(void **state)
{
	struct margo_http_client *c = client_with(other_ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	assert_non_null(strstr(err.message, "certificate"));
	margo_http_client_free(c);
}

static void test_host_name_checked(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	/* Right CA, but the certificate names wfm.example and 10.9.9.9, not 127.0.0.1. */
	url(u, sizeof(u), &wrong_name_srv, "127.0.0.1", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	url(u, sizeof(u), &wrong_name_srv, "localhost", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	margo_http_client_free(c);
}

/* The environment's CA bundle holds the test CA; we must ignore it. */
static void test_environment_ca_ignored(void **state)
{
	struct margo_http_options o = { 0 };
	struct margo_http_client *c = NULL;
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128], bundle[128];
	FILE *f;

	(void)state;
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", tmpdir);
	f = fopen(bundle, "w");
	assert_non_null(f);
	fputs(ca_pem, f);
	fclose(f);
	setenv("SSL_CERT_FILE", bundle, 1);
	setenv("CURL_CA_BUNDLE", bundle, 1);
	setenv("SSL_CERT_DIR", tmpdir, 1);

	/* No CA and not insecure: refused outright. */
	assert_int_equal(margo_http_client_new(&o, &c, &err), MARGO_EINVAL);
	assert_null(c);
	assert_int_equal(margo_http_client_new(NULL, &c, &err), MARGO_EINVAL);

	/* Another CA: the environment's bundle must not rescue the connection. */
	c = client_with(other_ca_pem, 0, NULL, 5);
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	margo_http_client_free(c);

	/* Sanity: the bundle really would have worked, and the right pin works too. */
	c = client_with(ca_pem, 0, NULL, 5);
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 200);
	margo_http_response_free(&r);
	margo_http_client_free(c);

	unsetenv("SSL_CERT_DIR");
	setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt", 1);
	setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt", 1);
}

static void test_insecure(void **state)
{
	struct margo_http_client *c = client_with(NULL, 1, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &wrong_name_srv, "127.0.0.1", "/echo");
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	assert_int_equal(r.status, 200);
	margo_http_response_free(&r);
	margo_http_client_free(c);
}

static void test_https_only(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/echo", good_srv.port);
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	margo_http_client_free(c);
}

static void test_proxy_from_options_only(void **state)
{
	struct margo_http_client *c;
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	url(u, sizeof(u), &good_srv, "127.0.0.1", "/echo");
	/* Environment proxies (a dead port) are ignored. */
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	c = client_with(ca_pem, 0, NULL, 5);
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_OK);
	margo_http_response_free(&r);
	margo_http_client_free(c);
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");

	/* A configured proxy is used, even with NO_PROXY naming the host. */
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	c = client_with(ca_pem, 0, "http://127.0.0.1:1", 5);
	assert_int_equal(margo_http_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	margo_http_client_free(c);
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
}

static void test_connection_refused(void **state)
{
	struct margo_http_client *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };

	(void)state;
	assert_int_equal(margo_http_request(c, "GET", "https://127.0.0.1:1/", NULL, 0, NULL, 0, &r,
					    &err),
			 MARGO_ENET);
	assert_true(strlen(err.message) > 0);
	margo_http_client_free(c);
	margo_http_client_free(NULL);
	margo_http_response_free(NULL);
}

struct summary_case {
	long status;
	const char *content_type;
	const char *body;
	const char *want;
};

static const struct summary_case summary_cases[] = {
	{ 404, "application/problem+json",
	  "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"no device 1234\"}",
	  "404 Not Found: no device 1234" },
	{ 401, "application/json", "{\"error\":\"invalid_client\"}", "401 invalid_client" },
	{ 400, "application/json",
	  "{\"error\":\"invalid_request\",\"error_description\":\"grant_type missing\"}",
	  "400 invalid_request: grant_type missing" },
	{ 422, "application/problem+json",
	  "{\"title\":\"Unprocessable Content\",\"status\":422,\"detail\":\"invalid document\","
	  "\"errors\":[{\"field\":\"/properties/id\",\"message\":\"missing\"},"
	  "{\"field\":\"/kind\",\"message\":\"must be a string\"}]}",
	  "422 Unprocessable Content: invalid document (/properties/id: missing; /kind: must be a string)" },
	{ 409, "application/problem+json", "{\"title\":\"Conflict\"}", "409 Conflict" },
	{ 500, "text/plain", "boom\n", "500 Internal Server Error: boom" },
	{ 502, "text/html", "<html>bad</html>", "502 Bad Gateway" },
	{ 503, NULL, "", "503 Service Unavailable" },
	{ 418, NULL, "", "418 HTTP error" },
	{ 403, "application/problem+json", "{\"title\":\"Forbidden\",\"detail\":\"line1\\nline2\"}",
	  "403 Forbidden: line1 line2" },
	{ 400, "application/json", "[1,2]", "400 Bad Request" },
};

static void test_problem_summary(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(summary_cases) / sizeof(summary_cases[0]); i++) {
		struct margo_http_response r = { 0 };
		char *s;

		r.status = summary_cases[i].status;
		r.content_type = (char *)summary_cases[i].content_type;
		r.body = (char *)summary_cases[i].body;
		r.body_len = strlen(r.body);
		s = margo_http_problem_summary(&r);
		assert_non_null(s);
		if (strcmp(s, summary_cases[i].want) != 0)
			fail_msg("case %zu: got '%s' want '%s'", i, s, summary_cases[i].want);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_post_and_keepalive),
		cmocka_unit_test(test_localhost_name),
		cmocka_unit_test(test_response_headers),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_no_redirect),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_wrong_ca_fails),
		cmocka_unit_test(test_host_name_checked),
		cmocka_unit_test(test_environment_ca_ignored),
		cmocka_unit_test(test_insecure),
		cmocka_unit_test(test_https_only),
		cmocka_unit_test(test_proxy_from_options_only),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_problem_summary),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
