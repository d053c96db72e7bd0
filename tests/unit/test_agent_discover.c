#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discover.h"

/* The record tables name only the fields each case needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define SVC "_margo-wfm._tcp.local"
#define PIN "sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Records as a test writes them: type, name, then target/port/txt/address. */
struct rec {
	uint16_t type;
	const char *name;
	const char *target;   /* PTR, SRV */
	uint16_t port;        /* SRV */
	const char *txt;      /* TXT strings separated by '|' */
	const uint8_t *addr;  /* A (4) or AAAA (16) */
	uint32_t ttl;
};

static void fill(struct agent_dns_records *recs, const struct rec *r, size_t n)
{
	struct margo_dns_msg msg = { 0 };

	msg.rr = calloc(n, sizeof(*msg.rr));
	assert_non_null(msg.rr);
	for (size_t i = 0; i < n; i++) {
		struct margo_dns_rr *rr = &msg.rr[i];

		rr->type = r[i].type;
		rr->rclass = 1;
		rr->ttl = r[i].ttl != 0 ? r[i].ttl : 120;
		snprintf(rr->name, sizeof(rr->name), "%s", r[i].name);
		if (r[i].target != NULL)
			snprintf(rr->target, sizeof(rr->target), "%s", r[i].target);
		rr->port = r[i].port;
		if (r[i].addr != NULL)
			memcpy(rr->addr, r[i].addr, r[i].type == MARGO_DNS_A ? 4 : 16);
		for (const char *p = r[i].txt; p != NULL && *p != '\0';) {
			const char *e = strchr(p, '|');
			size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

			rr->txt[rr->txt_len] = (uint8_t)l;
			memcpy(rr->txt + rr->txt_len + 1, p, l);
			rr->txt_len = (uint16_t)(rr->txt_len + l + 1);
			p += l + (e != NULL);
		}
	}
	msg.nrr = n;
	assert_int_equal(agent_dns_records_add(recs, &msg), 0);
	margo_dns_msg_free(&msg);
}

static const uint8_t ip4[4] = { 10, 99, 0, 1 };
static const uint8_t ip6[16] = { 0xfe, 0x80, [15] = 1 };

struct assemble_case {
	const char *what;
	struct rec recs[6];
	size_t nrecs;
	const char *domain;
	size_t want_n;
	const char *name, *url, *pin;
};

static const struct assemble_case cases[] = {
	{ "complete answer, address from A", {
		{ MARGO_DNS_PTR, SVC, "Lab\\032WFM." SVC },
		{ MARGO_DNS_SRV, "Lab\\032WFM." SVC, "wfm.local", 8443 },
		{ MARGO_DNS_TXT, "Lab\\032WFM." SVC, .txt = "txtvers=1|path=/|pin=" PIN },
		{ MARGO_DNS_A, "wfm.local", .addr = ip4 } }, 4, NULL,
	  1, "Lab WFM", "https://10.99.0.1:8443", PIN },
	{ "TXT host wins, path kept, bad pin dropped", {
		{ MARGO_DNS_PTR, SVC, "a." SVC },
		{ MARGO_DNS_SRV, "a." SVC, "wfm.local", 443 },
		{ MARGO_DNS_TXT, "a." SVC, .txt = "host=wfm.example|path=/margo/|pin=sha256:xyz" },
		{ MARGO_DNS_A, "wfm.local", .addr = ip4 } }, 4, NULL,
	  1, "a", "https://wfm.example:443/margo", "" },
	{ "AAAA bracketed", {
		{ MARGO_DNS_PTR, SVC, "b." SVC },
		{ MARGO_DNS_SRV, "b." SVC, "wfm.local", 8443 },
		{ MARGO_DNS_AAAA, "wfm.local", .addr = ip6 } }, 3, NULL,
	  1, "b", "https://[fe80::1]:8443", "" },
	{ "unicast domain, target name as host", {
		{ MARGO_DNS_PTR, "_margo-wfm._tcp.example.com", "wfm._margo-wfm._tcp.example.com" },
		{ MARGO_DNS_SRV, "wfm._margo-wfm._tcp.example.com", "wfm.example.com", 8443 },
		{ MARGO_DNS_A, "wfm.example.com", .addr = ip4 } }, 3,
	  "example.com", 1, "wfm", "https://wfm.example.com:8443", "" },
	{ "no SRV: not listed", {
		{ MARGO_DNS_PTR, SVC, "c." SVC } }, 1, NULL, 0, NULL, NULL, NULL },
	{ "injection in host and path refused", {
		{ MARGO_DNS_PTR, SVC, "d." SVC },
		{ MARGO_DNS_SRV, "d." SVC, "wfm.local", 8443 },
		{ MARGO_DNS_TXT, "d." SVC, .txt = "path=/../x" },
		{ MARGO_DNS_A, "wfm.local", .addr = ip4 },
		{ MARGO_DNS_PTR, SVC, "e." SVC },
		{ MARGO_DNS_SRV, "e." SVC, "evil host@x", 8443 } }, 6, NULL, 0, NULL, NULL, NULL },
	{ "another service ignored, duplicates once (names ignore case)", {
		{ MARGO_DNS_PTR, SVC, "f." SVC },
		{ MARGO_DNS_PTR, "_http._tcp.local", "g._http._tcp.local" },
		{ MARGO_DNS_PTR, SVC, "h." SVC },
		{ MARGO_DNS_PTR, SVC, "H." SVC },
		{ MARGO_DNS_SRV, "h." SVC, "wfm.local", 1 },
		{ MARGO_DNS_A, "wfm.local", .addr = ip4 } }, 6, NULL,
	  1, "h", "https://10.99.0.1:1", "" },
};

static void test_assemble(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct assemble_case *c = &cases[i];
		struct agent_dns_records recs = { 0 };
		struct agent_wfm out[4];
		size_t n;

		for (size_t j = 0; j < c->nrecs; j++)
			fill(&recs, &c->recs[j], 1);
		n = agent_discover_assemble(&recs, c->domain, out, 4);
		if (n != c->want_n)
			fail_msg("%s: %zu WFMs, want %zu", c->what, n, c->want_n);
		if (n > 0) {
			assert_string_equal(out[0].name, c->name);
			assert_string_equal(out[0].url, c->url);
			assert_string_equal(out[0].pin, c->pin);
		}
		agent_dns_records_free(&recs);
	}
}

static void test_missing(void **state)
{
	static const struct rec ptr_only[] = {
		{ MARGO_DNS_PTR, SVC, "a." SVC },
		{ MARGO_DNS_PTR, SVC, "b." SVC },
		{ MARGO_DNS_SRV, "b." SVC, "wfm.local", 8443 },
		{ MARGO_DNS_TXT, "b." SVC, .txt = "path=/" },
	};
	struct agent_dns_records recs = { 0 };
	struct agent_dns_question q[8];
	size_t n;

	(void)state;
	fill(&recs, ptr_only, 4);
	n = agent_discover_missing(&recs, NULL, q, 8);
	assert_int_equal(n, 3);
	assert_string_equal(q[0].name, "a." SVC);
	assert_int_equal(q[0].type, MARGO_DNS_SRV);
	assert_int_equal(q[1].type, MARGO_DNS_TXT);
	assert_string_equal(q[2].name, "wfm.local");
	assert_int_equal(q[2].type, MARGO_DNS_A);
	agent_dns_records_free(&recs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assemble),
		cmocka_unit_test(test_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
