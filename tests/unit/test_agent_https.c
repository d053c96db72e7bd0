/* The agent's own HTTPS client (agent/https.c). It keeps the contract of margo_http_*, so the
 * whole margo_http suite (tests/unit/test_httpc.c: a real TLS server on 127.0.0.1) is compiled
 * here with the client names mapped to the agent's, and run first. Then what only this
 * client does itself, against a scripted TLS server (same CA and certificate): chunked and
 * close-delimited bodies, 100 Continue, a kept-alive connection the server closed, and the
 * CONNECT tunnel through a proxy. */
#include "https.h"

#define margo_http_client agent_https
#define margo_http_client_new agent_https_new
#define margo_http_client_free agent_https_free
#define margo_http_request agent_https_request
#define main httpc_suite_main

#include "test_httpc.c"

#undef main

#define SCRIPT_MAX 4

/* Connection i answers each request with answers[i] (NULL: closes instead), at most
 * per_conn requests, then closes. proxy: the connection starts with a CONNECT exchange. */
struct script {
	const char *answers[SCRIPT_MAX];
	int per_conn;
	int hangup;               /* 1: the first connection reads its last request, then closes
				   * without an answer (a kept-alive connection lost in a race) */
	int proxy;
	const char *proxy_answer; /* default "HTTP/1.1 200 Connection established\r\n\r\n" */
	/* filled in by the server */
	int listen_fd;
	int port;
	pthread_t thread;
	int accepted;
	char connect_head[1024];
	char last_request[4096];
};

/* The CONNECT head, read byte by byte so nothing of the TLS handshake is consumed. */
static int read_connect(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		if (recv(fd, buf + n, 1, 0) != 1)
			return -1;
		buf[++n] = '\0';
		if (n >= 4 && strcmp(buf + n - 4, "\r\n\r\n") == 0)
			return 0;
	}
	return -1;
}

static void *script_main(void *p)
{
	struct script *s = p;

	for (int i = 0; i < SCRIPT_MAX && (i == 0 || s->answers[i] != NULL); i++) {
		struct timeval tv = { .tv_sec = 5 };
		char req[4096];
		size_t len;
		SSL *ssl;
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0)
			break;
		s->accepted++;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (s->proxy) {
			const char *a = s->proxy_answer != NULL
						? s->proxy_answer
						: "HTTP/1.1 200 Connection established\r\n\r\n";

			if (read_connect(fd, s->connect_head, sizeof(s->connect_head)) != 0 ||
			    send(fd, a, strlen(a), MSG_NOSIGNAL) < 0 || s->proxy_answer != NULL) {
				close(fd);
				continue;
			}
		}
		ssl = SSL_new(good_srv.ctx);
		if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			for (int r = 0; r < s->per_conn; r++) {
				if (read_request(ssl, req, sizeof(req), &len) != 0)
					break;
				snprintf(s->last_request, sizeof(s->last_request), "%s", req);
				if (i == 0 && s->hangup && r == s->per_conn - 1)
					break;
				if (write_all(ssl, s->answers[i], strlen(s->answers[i])) != 0)
					break;
			}
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static void script_start(struct script *s)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);

	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->listen_fd >= 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(s->listen_fd, 4), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen), 0);
	s->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, script_main, s), 0);
}

static void script_stop(struct script *s)
{
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

static void get(struct agent_https *c, const char *u, int want_rc, long want_status,
		const char *want_body)
{
	struct margo_http_response r;
	struct margo_error err = { 0 };
	int rc = agent_https_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err);

	if (rc != want_rc)
		fail_msg("GET %s: rc %d (%s), want %d", u, rc, err.message, want_rc);
	if (rc == 0) {
		assert_int_equal(r.status, want_status);
		assert_string_equal(r.body, want_body);
		margo_http_response_free(&r);
	}
}

struct want {
	long status;
	const char *body;
};

/* The script's answers to n GETs of one client, with a pause between them (time for a
 * closing server to be seen); then the number of connections the server accepted. */
static void script_run(struct script *s, size_t n, const struct want *w, int connections)
{
	struct agent_https *c = client_with(ca_pem, 0, NULL, 5);
	char u[128];

	script_start(s);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/x", s->port);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			usleep(50 * 1000);
		get(c, u, MARGO_OK, w[i].status, w[i].body);
	}
	agent_https_free(c);
	script_stop(s);
	assert_int_equal(s->accepted, connections);
}

/* Three requests, one connection. */
static void test_chunked_and_keepalive(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n" },
		.per_conn = 3,
	};
	const struct want w[] = { { 200, "hello world" }, { 200, "hello world" },
				  { 200, "hello world" } };

	(void)state;
	script_run(&s, 3, w, 1);
}

static void test_continue_and_not_modified(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
			     "ETag: \"r1\"\r\n\r\n" },
		.per_conn = 2,
	};
	const struct want w[] = { { 304, "" }, { 304, "" } };

	(void)state;
	script_run(&s, 2, w, 1);
}

/* A body without length ends with the connection; a server that closes a kept-alive
 * connection between two requests costs a new connection, not a failure. */
static void test_close_delimited_and_stale(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 200 OK\r\n\r\nuntil the end",
			     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
			     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo" },
		.per_conn = 1,
	};
	const struct want w[] = { { 200, "until the end" }, { 200, "one" }, { 200, "two" } };

	(void)state;
	script_run(&s, 3, w, 3);
}

/* The server closes a kept-alive connection just as a request goes out: the request is sent
 * once more on a new connection. */
static void test_request_retried_once(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
			     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo" },
		.per_conn = 2,
		.hangup = 1,
	};
	const struct want w[] = { { 200, "one" }, { 200, "two" } };

	(void)state;
	script_run(&s, 2, w, 2);
}

static void test_truncated_body(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort" },
		.per_conn = 1,
	};
	struct agent_https *c = client_with(ca_pem, 0, NULL, 5);
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char u[128];

	(void)state;
	script_start(&s);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/x", s.port);
	assert_int_equal(agent_https_request(c, "GET", u, NULL, 0, NULL, 0, &r, &err), MARGO_ENET);
	assert_non_null(strstr(err.message, "closed"));
	assert_null(r.body);
	agent_https_free(c);
	script_stop(&s);
}

/* The target's name and port go in CONNECT (with Basic credentials from the proxy URL); TLS
 * runs inside the tunnel and verifies the target, not the proxy. */
static void test_proxy_connect(void **state)
{
	struct script s = {
		.answers = { "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ntunnel!" },
		.per_conn = 1,
		.proxy = 1,
	};
	struct agent_https *c;
	char proxy[128];

	(void)state;
	script_start(&s);
	snprintf(proxy, sizeof(proxy), "http://user:pass@127.0.0.1:%d", s.port);
	c = client_with(ca_pem, 0, proxy, 5);
	get(c, "https://localhost:8443/over/proxy", MARGO_OK, 200, "tunnel!");
	agent_https_free(c);
	script_stop(&s);
	assert_non_null(strstr(s.connect_head, "CONNECT localhost:8443 HTTP/1.1\r\n"));
	/* base64("user:pass") */
	assert_non_null(strstr(s.connect_head, "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"));
	assert_non_null(strstr(s.last_request, "GET /over/proxy HTTP/1.1\r\nHost: localhost:8443\r\n"));
}

static void test_proxy_refuses(void **state)
{
	struct script s = {
		.answers = { "unused" },
		.per_conn = 1,
		.proxy = 1,
		.proxy_answer = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
	};
	struct agent_https *c = NULL;
	struct margo_http_options o = { .ca_pem = ca_pem, .proxy = "https://proxy:3128" };
	struct margo_http_response r;
	struct margo_error err = { 0 };
	char proxy[128];

	(void)state;
	script_start(&s);
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", s.port);
	c = client_with(ca_pem, 0, proxy, 5);
	assert_int_equal(agent_https_request(c, "GET", "https://localhost:8443/", NULL, 0, NULL, 0,
					     &r, &err),
			 MARGO_ENET);
	assert_non_null(strstr(err.message, "407"));
	agent_https_free(c);
	script_stop(&s);
	/* TLS to the proxy itself is not supported: said at once */
	assert_int_equal(agent_https_new(&o, &c, &err), MARGO_EUNSUPPORTED);
}

int main(void)
{
	struct margo_error err;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunked_and_keepalive),
		cmocka_unit_test(test_continue_and_not_modified),
		cmocka_unit_test(test_close_delimited_and_stale),
		cmocka_unit_test(test_request_retried_once),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_proxy_connect),
		cmocka_unit_test(test_proxy_refuses),
	};
	int failed;

	/* as margo-agent starts */
	if (agent_tls_init(&err) != 0)
		return 1;
	failed = httpc_suite_main();

	return failed + cmocka_run_group_tests(tests, group_setup, group_teardown);
}
