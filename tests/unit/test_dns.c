#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "margo/dns.h"
#include "margo/error.h"

/* A message under construction, written byte by byte as a responder would. */
struct wire {
	uint8_t b[MARGO_DNS_MSG_MAX];
	size_t n;
};

static void w8(struct wire *w, unsigned v)
{
	w->b[w->n++] = (uint8_t)v;
}

static void w16(struct wire *w, unsigned v)
{
	w8(w, v >> 8);
	w8(w, v & 0xff);
}

static void w32(struct wire *w, uint32_t v)
{
	w16(w, v >> 16);
	w16(w, v & 0xffff);
}

/* Labels given as one string with '|' between them, no terminating zero. */
static void wlabels(struct wire *w, const char *labels)
{
	const char *p = labels;

	while (*p != '\0') {
		const char *e = strchr(p, '|');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		w8(w, (unsigned)l);
		memcpy(w->b + w->n, p, l);
		w->n += l;
		p += l + (e != NULL);
	}
}

static void wheader(struct wire *w, unsigned id, unsigned flags, unsigned qd, unsigned an,
		    unsigned ns, unsigned ar)
{
	w->n = 0;
	w16(w, id);
	w16(w, flags);
	w16(w, qd);
	w16(w, an);
	w16(w, ns);
	w16(w, ar);
}

/* The answer an mDNS responder gives to a one-shot PTR query: the question repeated, the PTR
 * answer, SRV, TXT and A as additional records, every name after the first compressed. */
static void build_answer(struct wire *w)
{
	size_t service, instance, host, rdlen_at;
	static const char txt[][32] = { "txtvers=1", "path=/", "PIN=sha256:abcd", "api=v1alpha1" };

	wheader(w, 0x1234, 0x8400, 1, 1, 0, 3);
	service = w->n;
	wlabels(w, "_margo-wfm|_tcp|local");
	w8(w, 0);
	w16(w, MARGO_DNS_PTR);
	w16(w, 1);
	/* PTR */
	w16(w, 0xc000 | service);
	w16(w, MARGO_DNS_PTR);
	w16(w, 1);
	w32(w, 10);
	rdlen_at = w->n;
	w16(w, 0);
	instance = w->n;
	wlabels(w, "Lab WFM.2");
	w16(w, 0xc000 | service);
	w->b[rdlen_at + 1] = (uint8_t)(w->n - instance);
	/* SRV */
	w16(w, 0xc000 | instance);
	w16(w, MARGO_DNS_SRV);
	w16(w, 0x8001);
	w32(w, 10);
	rdlen_at = w->n;
	w16(w, 0);
	w16(w, 0);
	w16(w, 0);
	w16(w, 8443);
	host = w->n;
	wlabels(w, "wfm");
	w16(w, 0xc000 | (service + 16)); /* "local" inside the service name */
	w->b[rdlen_at + 1] = (uint8_t)(w->n - rdlen_at - 2);
	/* TXT */
	w16(w, 0xc000 | instance);
	w16(w, MARGO_DNS_TXT);
	w16(w, 0x8001);
	w32(w, 10);
	rdlen_at = w->n;
	w16(w, 0);
	for (size_t i = 0; i < 4; i++) {
		w8(w, (unsigned)strlen(txt[i]));
		memcpy(w->b + w->n, txt[i], strlen(txt[i]));
		w->n += strlen(txt[i]);
	}
	w->b[rdlen_at + 1] = (uint8_t)(w->n - rdlen_at - 2);
	/* A */
	w16(w, 0xc000 | host);
	w16(w, MARGO_DNS_A);
	w16(w, 0x8001);
	w32(w, 120);
	w16(w, 4);
	w8(w, 10), w8(w, 99), w8(w, 0), w8(w, 1);
}

static void test_query_build(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		10, '_', 'm', 'a', 'r', 'g', 'o', '-', 'w', 'f', 'm', 4, '_', 't', 'c', 'p',
		5, 'l', 'o', 'c', 'a', 'l', 0, 0x00, 0x0c, 0x80, 0x01,
	};
	uint8_t buf[512];
	size_t len;

	(void)state;
	assert_int_equal(margo_dns_query_build(0, 0, "_margo-wfm._tcp.local", MARGO_DNS_PTR, 1,
					       buf, sizeof(buf), &len, NULL), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* unicast: id and RD set, escapes decoded */
	assert_int_equal(margo_dns_query_build(0xbeef, 1, "a\\.b\\032c.example.", MARGO_DNS_SRV,
					       0, buf, sizeof(buf), &len, NULL), 0);
	assert_int_equal(buf[0], 0xbe);
	assert_int_equal(buf[2], 0x01);
	assert_int_equal(buf[12], 5);
	assert_memory_equal(buf + 13, "a.b c", 5);
	assert_int_equal(len, 12 + 1 + 5 + 1 + 7 + 1 + 4);
}

static void test_query_build_bad_names(void **state)
{
	static const char *const bad[] = {
		"a..b", ".a", "a\\", "a\\999.b",
		"0123456789012345678901234567890123456789012345678901234567890123.x",
	};
	char longname[400];
	uint8_t buf[512];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(margo_dns_query_build(0, 0, bad[i], 1, 0, buf, sizeof(buf), &len,
						       NULL), MARGO_EINVAL);
	memset(longname, 0, sizeof(longname));
	for (size_t i = 0; i < 64; i++)
		memcpy(longname + i * 4, "abc.", 4);
	longname[255] = 'x';
	assert_int_equal(margo_dns_query_build(0, 0, longname, 1, 0, buf, sizeof(buf), &len, NULL),
			 MARGO_EINVAL);
	assert_int_equal(margo_dns_query_build(0, 0, "a.b", 1, 0, buf, 16, &len, NULL),
			 MARGO_ETOOBIG);
}

static void test_parse_answer(void **state)
{
	struct wire w;
	struct margo_dns_msg m;
	struct margo_error err;
	char v[64];

	(void)state;
	build_answer(&w);
	assert_int_equal(margo_dns_parse(w.b, w.n, &m, &err), 0);
	assert_int_equal(m.id, 0x1234);
	assert_int_equal(m.nrr, 4);
	assert_string_equal(m.rr[0].name, "_margo-wfm._tcp.local");
	assert_int_equal(m.rr[0].type, MARGO_DNS_PTR);
	assert_string_equal(m.rr[0].target, "Lab\\032WFM\\.2._margo-wfm._tcp.local");
	assert_true(margo_dns_name_equal(m.rr[1].name, "LAB\\032wfm\\.2._MARGO-wfm._tcp.local"));
	assert_int_equal(m.rr[1].type, MARGO_DNS_SRV);
	assert_int_equal(m.rr[1].rclass, 1);
	assert_int_equal(m.rr[1].port, 8443);
	assert_string_equal(m.rr[1].target, "wfm.local");
	assert_int_equal(m.rr[2].type, MARGO_DNS_TXT);
	assert_true(margo_dns_txt_get(&m.rr[2], "pin", v, sizeof(v)));
	assert_string_equal(v, "sha256:abcd");
	assert_true(margo_dns_txt_get(&m.rr[2], "path", v, sizeof(v)));
	assert_string_equal(v, "/");
	assert_false(margo_dns_txt_get(&m.rr[2], "pat", v, sizeof(v)));
	assert_false(margo_dns_txt_get(&m.rr[2], "pin", v, 5));
	assert_string_equal(m.rr[3].name, "wfm.local");
	assert_memory_equal(m.rr[3].addr, "\x0a\x63\x00\x01", 4);
	assert_int_equal(margo_dns_first_label(m.rr[0].target, v, sizeof(v)), 0);
	assert_string_equal(v, "Lab WFM.2");
	margo_dns_msg_free(&m);
}

/* Each case damages the good answer (or builds a small bad one) and must be refused. */
struct bad_case {
	const char *what;
	void (*make)(struct wire *w);
	int code;
};

static void pointer_loop(struct wire *w)
{
	wheader(w, 1, 0x8000, 0, 1, 0, 0);
	w16(w, 0xc000 | 12); /* points at itself */
	w16(w, 1), w16(w, 1), w32(w, 1), w16(w, 4), w32(w, 0);
}

static void pointer_forward(struct wire *w)
{
	wheader(w, 1, 0x8000, 0, 1, 0, 0);
	w16(w, 0xc000 | 40);
	w16(w, 1), w16(w, 1), w32(w, 1), w16(w, 4), w32(w, 0);
	while (w->n < 48)
		w8(w, 0);
}

static void pointer_cycle_two(struct wire *w)
{
	/* 12: "a" then pointer to 17; 17: "b" then pointer to 12 */
	wheader(w, 1, 0x8000, 0, 1, 0, 0);
	wlabels(w, "a");
	w16(w, 0xc000 | 17);
	w8(w, 0);
	wlabels(w, "b");
	w16(w, 0xc000 | 12);
}

static void label_64(struct wire *w)
{
	wheader(w, 1, 0x8000, 1, 0, 0, 0);
	w8(w, 64);
	for (int i = 0; i < 64; i++)
		w8(w, 'a');
	w8(w, 0), w16(w, 1), w16(w, 1);
}

static void name_256(struct wire *w)
{
	wheader(w, 1, 0x8000, 1, 0, 0, 0);
	for (int l = 0; l < 4; l++) {
		w8(w, 63);
		for (int i = 0; i < 63; i++)
			w8(w, 'a');
	}
	w8(w, 4), w32(w, 0x61616161);
	w8(w, 0), w16(w, 1), w16(w, 1);
}

static void reserved_label(struct wire *w)
{
	wheader(w, 1, 0x8000, 1, 0, 0, 0);
	w8(w, 0x41), w8(w, 0), w16(w, 1), w16(w, 1);
}

static void truncated_rdata(struct wire *w)
{
	build_answer(w);
	w->n -= 2;
}

static void a_five_bytes(struct wire *w)
{
	build_answer(w);
	w->b[w->n - 5] = 5;
	w8(w, 0);
}

static void txt_overrun(struct wire *w)
{
	wheader(w, 1, 0x8000, 0, 1, 0, 0);
	w8(w, 0), w16(w, MARGO_DNS_TXT), w16(w, 1), w32(w, 1), w16(w, 3);
	w8(w, 5), w8(w, 'a'), w8(w, 'b');
}

static void srv_name_short(struct wire *w)
{
	/* SRV whose target name ends before the RDATA does */
	wheader(w, 1, 0x8000, 0, 1, 0, 0);
	w8(w, 0), w16(w, MARGO_DNS_SRV), w16(w, 1), w32(w, 1), w16(w, 9);
	w16(w, 0), w16(w, 0), w16(w, 1), w8(w, 0), w16(w, 0);
}

static void ptr_name_past_rdata(struct wire *w)
{
	wheader(w, 1, 0x8000, 0, 2, 0, 0);
	w8(w, 0), w16(w, MARGO_DNS_PTR), w16(w, 1), w32(w, 1), w16(w, 2);
	wlabels(w, "x"); /* name continues past the two RDATA bytes */
	w8(w, 0);
	w8(w, 0), w16(w, 99), w16(w, 1), w32(w, 1), w16(w, 0);
}

static void not_response(struct wire *w)
{
	build_answer(w);
	w->b[2] &= 0x7f;
}

static void too_many_questions(struct wire *w)
{
	wheader(w, 1, 0x8000, 65, 0, 0, 0);
}

static void counts_lie(struct wire *w)
{
	build_answer(w);
	w->b[11] = 9; /* more additional records than present */
}

static void short_header(struct wire *w)
{
	wheader(w, 1, 0x8000, 0, 0, 0, 0);
	w->n = 11;
}

static const struct bad_case bad_cases[] = {
	{ "pointer to itself", pointer_loop, MARGO_EINVAL },
	{ "forward pointer", pointer_forward, MARGO_EINVAL },
	{ "two pointers in a cycle", pointer_cycle_two, MARGO_EINVAL },
	{ "label of 64 bytes", label_64, MARGO_EINVAL },
	{ "name of 256 bytes", name_256, MARGO_EINVAL },
	{ "reserved label type", reserved_label, MARGO_EINVAL },
	{ "truncated RDATA", truncated_rdata, MARGO_EINVAL },
	{ "A of 5 bytes", a_five_bytes, MARGO_EINVAL },
	{ "TXT string overruns", txt_overrun, MARGO_EINVAL },
	{ "SRV name shorter than RDATA", srv_name_short, MARGO_EINVAL },
	{ "PTR name past RDATA", ptr_name_past_rdata, MARGO_EINVAL },
	{ "a query, not a response", not_response, MARGO_EPROTO },
	{ "65 questions", too_many_questions, MARGO_EINVAL },
	{ "record counts larger than the message", counts_lie, MARGO_EINVAL },
	{ "11-byte message", short_header, MARGO_EINVAL },
};

static void test_parse_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct wire w;
		struct margo_dns_msg m;
		struct margo_error err;
		int rc;

		memset(&w, 0, sizeof(w));
		bad_cases[i].make(&w);
		rc = margo_dns_parse(w.b, w.n, &m, &err);
		if (rc != bad_cases[i].code)
			fail_msg("%s: got %d (%s), want %d", bad_cases[i].what, rc,
				 rc != 0 ? err.message : "accepted", bad_cases[i].code);
		assert_null(m.rr);
		assert_int_equal(m.nrr, 0);
	}
}

/* More records than MARGO_DNS_RR_MAX: the first ones are kept, the message still parses. */
static void test_parse_record_bound(void **state)
{
	struct wire w;
	struct margo_dns_msg m;

	(void)state;
	wheader(&w, 7, 0x8000, 0, 100, 0, 0);
	for (int i = 0; i < 100; i++) {
		w8(&w, 0), w16(&w, MARGO_DNS_A), w16(&w, 1), w32(&w, 1), w16(&w, 4);
		w32(&w, (uint32_t)i);
	}
	assert_int_equal(margo_dns_parse(w.b, w.n, &m, NULL), 0);
	assert_int_equal(m.nrr, MARGO_DNS_RR_MAX);
	assert_string_equal(m.rr[0].name, ".");
	assert_int_equal(m.rr[MARGO_DNS_RR_MAX - 1].addr[3], MARGO_DNS_RR_MAX - 1);
	margo_dns_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_query_build_bad_names),
		cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_record_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
