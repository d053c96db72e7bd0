/* Finding the WFM: DNS-SD (RFC 6763) service _margo-wfm._tcp, by a one-shot multicast DNS
 * query on the local link (RFC 6762 5.1) or by unicast DNS in a domain. The agent speaks DNS
 * itself (lib/dns.c) rather than linking libavahi-client, which with D-Bus would more than
 * double the agent's footprint and need avahi-daemon on the device. What is found is a hint
 * only: nothing in DNS-SD is authenticated, so the CA is still checked against a pin, an
 * enrollment token's CA MAC, or explicit trust on first use (agent/trust.c). */
#ifndef AGENT_DISCOVER_H
#define AGENT_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "margo/dns.h"
#include "margo/error.h"

#define AGENT_DISCOVER_SERVICE "_margo-wfm._tcp"
/* WFMs kept from one discovery */
#define AGENT_DISCOVER_MAX 16

struct agent_wfm {
	char name[256];          /* instance name, unescaped (UTF-8 as announced) */
	char url[600];           /* https://HOST:PORT[/path] */
	char pin[80];            /* TXT pin hint ("sha256:<hex>"), "" when none */
	char api[32];            /* TXT api, "" when none */
};

struct agent_discover_options {
	const char *domain;      /* NULL or "local": multicast on the local link */
	const char *nameserver;  /* unicast: IP[:PORT] instead of /etc/resolv.conf's first */
	int timeout_ms;          /* how long answers are collected */
};

/* Collected resource records, from any number of answers. */
struct agent_dns_records {
	struct margo_dns_rr *rr;
	size_t n, cap;
};

/* Discovers WFMs. *list newly allocated (free()), *n may be 0. MARGO_ENET when no query could
 * be sent (no interface, no nameserver). */
int agent_discover(const struct agent_discover_options *o, struct agent_wfm **list, size_t *n,
		   struct margo_error *err);

/* The WFMs described by the records under "<AGENT_DISCOVER_SERVICE>.<domain>": each PTR
 * instance with an SRV; URL host from TXT host=, else the SRV target unless it is a .local
 * name, else its A (then AAAA) record. Returns how many were written to out (at most max). */
size_t agent_discover_assemble(const struct agent_dns_records *recs, const char *domain,
			       struct agent_wfm *out, size_t max);

struct agent_dns_question {
	char name[MARGO_DNS_NAME_MAX];
	uint16_t type;
};

/* The follow-up questions that would complete the records: SRV and TXT of instances that
 * lack them, A of SRV targets without an address. Returns how many (at most max). */
size_t agent_discover_missing(const struct agent_dns_records *recs, const char *domain,
			      struct agent_dns_question *q, size_t max);

/* Appends the records of msg. 0 or MARGO_ENOMEM. */
int agent_dns_records_add(struct agent_dns_records *recs, const struct margo_dns_msg *msg);
void agent_dns_records_free(struct agent_dns_records *recs);

/* Prints the list as a table, or as a JSON array. */
void agent_discover_print(const struct agent_wfm *list, size_t n, int json);

#endif
