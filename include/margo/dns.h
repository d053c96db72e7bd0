/* DNS messages (RFC 1035) as DNS-SD (RFC 6763) over multicast DNS (RFC 6762) and unicast DNS
 * uses them: building a one-question query, parsing an answer with strict bounds (name
 * compression with loop protection, label and name lengths, record counts, RDATA lengths)
 * into the PTR, SRV, TXT, A and AAAA records discovery needs. Every input parsed here comes
 * from the network unauthenticated. */
#ifndef MARGO_DNS_H
#define MARGO_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"

/* A name in presentation form ("My\ WFM._margo-wfm._tcp.local": '.' and '\' inside a label
 * escaped with '\', bytes outside printable ASCII as \DDD), NUL included. 255 wire bytes can
 * need up to 4 characters each. */
#define MARGO_DNS_NAME_MAX 1024
/* The largest message we build or accept: mDNS allows up to 9000 bytes (RFC 6762 17). */
#define MARGO_DNS_MSG_MAX 9000
/* Records kept from one message (questions excluded); more are ignored. */
#define MARGO_DNS_RR_MAX 64
/* TXT RDATA kept per record. */
#define MARGO_DNS_TXT_MAX 1300

enum margo_dns_type {
	MARGO_DNS_A = 1,
	MARGO_DNS_PTR = 12,
	MARGO_DNS_TXT = 16,
	MARGO_DNS_AAAA = 28,
	MARGO_DNS_SRV = 33,
};

#define MARGO_DNS_CLASS_IN 1
/* mDNS: in a question, "unicast response wanted"; in a record, "cache flush". */
#define MARGO_DNS_CLASS_TOP_BIT 0x8000

/* Header flags */
#define MARGO_DNS_FLAG_QR 0x8000
#define MARGO_DNS_FLAG_RD 0x0100
#define MARGO_DNS_RCODE_MASK 0x000f

struct margo_dns_rr {
	char name[MARGO_DNS_NAME_MAX];
	uint16_t type;
	uint16_t rclass;                 /* with the mDNS cache-flush bit removed */
	uint32_t ttl;
	/* PTR: target; SRV: target host */
	char target[MARGO_DNS_NAME_MAX];
	uint16_t priority, weight, port; /* SRV */
	uint8_t addr[16];                /* A: 4 bytes, AAAA: 16 */
	uint8_t txt[MARGO_DNS_TXT_MAX];  /* TXT RDATA as on the wire (length-prefixed strings) */
	uint16_t txt_len;
};

struct margo_dns_msg {
	uint16_t id;
	uint16_t flags;
	size_t nrr;                      /* answer + authority + additional records kept */
	struct margo_dns_rr *rr;         /* nrr records; other types than those above are skipped */
};

/* Builds a query with one question (name in presentation form, type, class IN; qu sets the
 * mDNS unicast-response bit) into buf. rd: recursion desired (unicast DNS). *len is the
 * message length. MARGO_EINVAL for a malformed name, MARGO_ETOOBIG when cap is too small. */
int margo_dns_query_build(uint16_t id, int rd, const char *name, uint16_t type, int qu,
			  uint8_t *buf, size_t cap, size_t *len, struct margo_error *err);

/* Parses a response. msg->rr is newly allocated (margo_dns_msg_free). MARGO_EINVAL (err says
 * where) for anything malformed or out of bounds: nothing is kept then. A message that is
 * not a response (QR clear) is MARGO_EPROTO. */
int margo_dns_parse(const uint8_t *buf, size_t len, struct margo_dns_msg *msg,
		    struct margo_error *err);

void margo_dns_msg_free(struct margo_dns_msg *msg);

/* 1 when the two presentation-form names are equal ignoring ASCII case. */
int margo_dns_name_equal(const char *a, const char *b);

/* Looks up key in a TXT record's RDATA ("key=value" strings, key case-insensitive, RFC 6763
 * 6.4). Copies the value NUL-terminated into out. 1 when found with a value that fits and has
 * no NUL byte, 0 otherwise. */
int margo_dns_txt_get(const struct margo_dns_rr *rr, const char *key, char *out, size_t cap);

/* The first label of name (an instance name) unescaped into out; 0, or MARGO_EINVAL. */
int margo_dns_first_label(const char *name, char *out, size_t cap);

#endif
