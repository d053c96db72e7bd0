/* connect-proxy: a tiny HTTP CONNECT proxy for the end-to-end scenarios (the agent's
 * https_proxy setting).
 *
 *   connect-proxy PORT_FILE LOG_FILE
 *
 * Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening), answers each
 * "CONNECT host:port HTTP/1.1" with 200 and relays bytes both ways until either side closes
 * (one process per tunnel), appending "CONNECT host:port" to LOG_FILE for each tunnel it
 * opened (or "REFUSED host:port" when the target did not answer, with a 502). Anything but
 * CONNECT gets 405. Runs until killed. Exit 2 on bad usage or when it cannot listen. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192

static const char *log_path;

static void log_line(const char *what, const char *target)
{
	char line[600];
	int fd, n;

	n = snprintf(line, sizeof(line), "%s %.512s\n", what, target);
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0)
		perror("connect-proxy: log");
	close(fd);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* host:port ([v6]:port too) to a connected socket, or -1. */
static int dial(char *target)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char *host = target, *port = strrchr(target, ':');
	int fd = -1;

	if (port == NULL)
		return -1;
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
		host++;
		port[-2] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Copies both ways until both directions are closed (half-close passed on). */
static void relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[16384];
	int open_dirs = 2;

	while (open_dirs > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			int other = i == 0 ? b : a;
			ssize_t r;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 || (r > 0 && send_all(other, buf, (size_t)r) != 0))
				return;
			if (r > 0)
				continue;
			/* end of stream from this side: tell the other one, stop reading here */
			shutdown(other, SHUT_WR);
			p[i].fd = -1;
			open_dirs--;
		}
	}
}

static void serve(int client)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char bad_gateway[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
	static const char not_allowed[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n";
	char head[HEAD_MAX + 1], target[512];
	size_t n = 0;
	int upstream;

	/* byte by byte: nothing after the head (the TLS handshake) may be consumed here */
	while (n < HEAD_MAX) {
		ssize_t r = recv(client, head + n, 1, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			return;
		head[++n] = '\0';
		if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (sscanf(head, "CONNECT %511s HTTP/1.", target) != 1) {
		send_all(client, not_allowed, sizeof(not_allowed) - 1);
		return;
	}
	upstream = dial(strcpy(head, target));
	if (upstream < 0) {
		log_line("REFUSED", target);
		send_all(client, bad_gateway, sizeof(bad_gateway) - 1);
		return;
	}
	log_line("CONNECT", target);
	if (send_all(client, ok, sizeof(ok) - 1) == 0)
		relay(client, upstream);
	close(upstream);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	char tmp[4096];
	FILE *f;
	int lfd, one = 1;

	if (argc != 3) {
		fputs("Usage: connect-proxy PORT_FILE LOG_FILE\n", stderr);
		return 2;
	}
	log_path = argv[2];
	signal(SIGCHLD, SIG_IGN); /* tunnels are reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
		perror("connect-proxy: listen");
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%d\n", ntohs(addr.sin_port)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[1]) != 0) {
		perror("connect-proxy: port file");
		return 2;
	}
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("connect-proxy: accept");
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(c);
			close(c);
			_exit(0);
		}
		close(c);
	}
}
