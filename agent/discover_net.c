/* The network half of discovery: one-shot multicast DNS queries (RFC 6762 5.1: sent from an
 * ephemeral port to 224.0.0.251 and ff02::fb port 5353 on every multicast interface; responders
 * answer by unicast to that port, repeating the query id) and unicast DNS queries to the
 * nameserver of /etc/resolv.conf. Answers are collected for a bounded time and kept only when
 * they carry our query id (and, for unicast, come from the nameserver asked). */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "discover.h"
#include "margo/log.h"

#define MDNS_PORT 5353
#define MDNS_V4 "224.0.0.251"
#define MDNS_V6 "ff02::fb"
#define DNS_PORT 53
#define RESOLV_CONF "/etc/resolv.conf"
#define FOLLOW_UP_ROUNDS 2
#define FOLLOW_UP_MS 1000
#define QUESTIONS_MAX 32
#define IFACES_MAX 32

struct transport {
	int fd4, fd6;
	int multicast;
	struct sockaddr_storage ns;   /* unicast: the nameserver */
	socklen_t ns_len;
	uint16_t id;
	unsigned ifindex[IFACES_MAX]; /* multicast: where queries go */
	struct in_addr ifaddr4[IFACES_MAX];
	size_t nif4, nif6;
	unsigned ifindex6[IFACES_MAX];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* IP[:PORT], [IPv6]:PORT or a bare IPv6 address. */
static int parse_nameserver(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	long p = DNS_PORT;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(s, ':');

		if (snprintf(host, sizeof(host), "%s", s) >= (int)sizeof(host))
			return -1;
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			host[colon - s] = '\0';
			port = colon + 1;
		}
	}
	if (port != NULL) {
		p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
			return -1;
	}
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* The first nameserver line of resolv.conf. */
static int resolv_conf_nameserver(struct sockaddr_storage *ss, socklen_t *len,
				  struct margo_error *err)
{
	FILE *f = fopen(RESOLV_CONF, "r");
	char line[256], addr[128];
	int rc = -1;

	if (f == NULL)
		return margo_error_set(err, MARGO_ENET, "cannot read %s: %s", RESOLV_CONF,
				       strerror(errno));
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " nameserver %127s", addr) == 1 && strchr(addr, '%') == NULL)
			rc = parse_nameserver(addr, ss, len);
	fclose(f);
	return rc == 0 ? MARGO_OK : margo_error_set(err, MARGO_ENET, "no usable nameserver in %s",
						     RESOLV_CONF);
}

static int add_index(unsigned *list, size_t *n, unsigned idx)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == idx)
			return 0;
	if (*n == IFACES_MAX)
		return 0;
	list[(*n)++] = idx;
	return 1;
}

/* The up, multicast-capable, non-loopback interfaces, by address family. */
static void list_interfaces(struct transport *t)
{
	struct ifaddrs *ifs = NULL;

	if (getifaddrs(&ifs) != 0)
		return;
	for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
		unsigned idx;

		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) ||
		    !(i->ifa_flags & IFF_MULTICAST) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		idx = if_nametoindex(i->ifa_name);
		if (idx == 0)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			size_t before = t->nif4;

			if (add_index(t->ifindex, &t->nif4, idx) && t->nif4 > before)
				t->ifaddr4[before] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			add_index(t->ifindex6, &t->nif6, idx);
		}
	}
	freeifaddrs(ifs);
}

static int open_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1, ttl = 255;

	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl));
	} else {
		unsigned char t8 = 255;

		(void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t8, sizeof(t8));
	}
	return fd;
}

static int transport_open(struct transport *t, const struct agent_discover_options *o,
			  struct margo_error *err)
{
	memset(t, 0, sizeof(*t));
	t->fd4 = t->fd6 = -1;
	t->multicast = o->domain == NULL || strcmp(o->domain, "local") == 0 ||
		       strcmp(o->domain, "local.") == 0;
	if (RAND_bytes((unsigned char *)&t->id, sizeof(t->id)) != 1)
		return margo_error_set(err, MARGO_ECRYPTO, "no random query id");
	if (t->multicast) {
		list_interfaces(t);
		if (t->nif4 > 0)
			t->fd4 = open_socket(AF_INET);
		if (t->nif6 > 0)
			t->fd6 = open_socket(AF_INET6);
		if (t->fd4 < 0 && t->fd6 < 0)
			return margo_error_set(err, MARGO_ENET,
					       "no multicast-capable network interface is up");
		return MARGO_OK;
	}
	if (o->nameserver != NULL) {
		if (parse_nameserver(o->nameserver, &t->ns, &t->ns_len) != 0)
			return margo_error_set(err, MARGO_EINVAL,
					       "--nameserver takes IP, IP:PORT or [IPv6]:PORT, not %s",
					       o->nameserver);
	} else if (resolv_conf_nameserver(&t->ns, &t->ns_len, err) != 0) {
		return MARGO_ENET;
	}
	if (t->ns.ss_family == AF_INET)
		t->fd4 = open_socket(AF_INET);
	else
		t->fd6 = open_socket(AF_INET6);
	if (t->fd4 < 0 && t->fd6 < 0)
		return margo_error_set(err, MARGO_ENET, "socket: %s", strerror(errno));
	return MARGO_OK;
}

static void transport_close(struct transport *t)
{
	if (t->fd4 >= 0)
		close(t->fd4);
	if (t->fd6 >= 0)
		close(t->fd6);
}

/* Sends one question; returns how many copies left (0: none could be sent). */
static int send_question(struct transport *t, const struct agent_dns_question *q,
			 struct margo_error *err)
{
	uint8_t buf[600];
	size_t len;
	int sent = 0;

	if (margo_dns_query_build(t->id, !t->multicast, q->name, q->type, t->multicast, buf,
				  sizeof(buf), &len, err) != 0)
		return 0;
	if (!t->multicast) {
		int fd = t->ns.ss_family == AF_INET ? t->fd4 : t->fd6;

		return sendto(fd, buf, len, 0, (struct sockaddr *)&t->ns, t->ns_len) == (ssize_t)len;
	}
	for (size_t i = 0; i < t->nif4 && t->fd4 >= 0; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };

		inet_pton(AF_INET, MDNS_V4, &to.sin_addr);
		if (setsockopt(t->fd4, IPPROTO_IP, IP_MULTICAST_IF, &t->ifaddr4[i],
			       sizeof(t->ifaddr4[i])) == 0 &&
		    sendto(t->fd4, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
			sent++;
	}
	for (size_t i = 0; i < t->nif6 && t->fd6 >= 0; i++) {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(MDNS_PORT),
					   .sin6_scope_id = t->ifindex6[i] };

		inet_pton(AF_INET6, MDNS_V6, &to.sin6_addr);
		if (setsockopt(t->fd6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &t->ifindex6[i],
			       sizeof(t->ifindex6[i])) == 0 &&
		    sendto(t->fd6, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
			sent++;
	}
	return sent;
}

/* 1 when from is the nameserver we asked. */
static int from_nameserver(const struct transport *t, const struct sockaddr_storage *from)
{
	if (from->ss_family != t->ns.ss_family)
		return 0;
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)from, *b = (const void *)&t->ns;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	{
		const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&t->ns;

		return a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
	}
}

/* Reads one datagram from fd into recs when it is an answer to us. Returns 1 when kept. */
static int receive(struct transport *t, int fd, struct agent_dns_records *recs)
{
	static uint8_t buf[MARGO_DNS_MSG_MAX];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct margo_dns_msg msg;
	struct margo_error e;
	ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	int kept = 0;

	if (n <= 0 || (!t->multicast && !from_nameserver(t, &from)))
		return 0;
	if (margo_dns_parse(buf, (size_t)n, &msg, &e) != 0) {
		margo_log_debug("discovery: answer ignored", "reason=\"%s\"", e.message);
		return 0;
	}
	if (msg.id == t->id && (msg.flags & MARGO_DNS_RCODE_MASK) == 0)
		kept = agent_dns_records_add(recs, &msg) == 0;
	margo_dns_msg_free(&msg);
	return kept;
}

/* Collects answers until deadline or, for unicast, until `expected` answers arrived. */
static void collect(struct transport *t, int64_t deadline, int expected,
		    struct agent_dns_records *recs)
{
	int answers = 0;

	for (;;) {
		struct pollfd p[2] = { { t->fd4, POLLIN, 0 }, { t->fd6, POLLIN, 0 } };
		int64_t left = deadline - now_ms();

		if (left <= 0 || (!t->multicast && answers >= expected))
			return;
		if (poll(p, 2, (int)left) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (p[i].revents & POLLIN)
				answers += receive(t, p[i].fd, recs);
	}
}

static int ask_all(struct transport *t, const struct agent_dns_question *q, size_t n,
		   int64_t wait_ms, struct agent_dns_records *recs, struct margo_error *err)
{
	int sent = 0;

	for (size_t i = 0; i < n; i++)
		sent += send_question(t, &q[i], err) > 0;
	if (sent == 0)
		return margo_error_set(err, MARGO_ENET, "cannot send a DNS query: %s",
				       t->multicast ? "no interface took it" : strerror(errno));
	collect(t, now_ms() + wait_ms, sent, recs);
	return MARGO_OK;
}

int agent_discover(const struct agent_discover_options *o, struct agent_wfm **list, size_t *n,
		   struct margo_error *err)
{
	struct agent_dns_question *q = calloc(QUESTIONS_MAX, sizeof(*q));
	struct agent_dns_records recs = { 0 };
	struct transport t;
	const char *domain = o->domain != NULL ? o->domain : "local";
	int rc;

	*list = NULL;
	*n = 0;
	if (q == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = transport_open(&t, o, err);
	if (rc != 0)
		goto out;
	snprintf(q[0].name, sizeof(q[0].name), "%s.%s", AGENT_DISCOVER_SERVICE, domain);
	q[0].type = MARGO_DNS_PTR;
	rc = ask_all(&t, q, 1, o->timeout_ms, &recs, err);
	/* responders that gave the PTR alone: ask for what is missing */
	for (int round = 0; rc == 0 && round < FOLLOW_UP_ROUNDS; round++) {
		size_t nq = agent_discover_missing(&recs, domain, q, QUESTIONS_MAX);

		if (nq == 0)
			break;
		rc = ask_all(&t, q, nq, o->timeout_ms < FOLLOW_UP_MS ? o->timeout_ms : FOLLOW_UP_MS,
			     &recs, err);
	}
	if (rc != 0)
		goto out;
	*list = calloc(AGENT_DISCOVER_MAX, sizeof(**list));
	if (*list == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	*n = agent_discover_assemble(&recs, domain, *list, AGENT_DISCOVER_MAX);
out:
	transport_close(&t);
	agent_dns_records_free(&recs);
	free(q);
	return rc;
}
