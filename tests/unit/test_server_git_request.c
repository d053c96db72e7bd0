/* git_pkt.c and git_request.c: pkt-line framing and the v0/v2 request parser, table-driven
 * (the fuzz target's seed corpus is made of these bodies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_pkt.h"
#include "git_request.h"

#define W "want 1111111111111111111111111111111111111111"
#define H "have 2222222222222222222222222222222222222222"

/* A request body of pkt-lines: each string one line ("\n" appended), "0000"/"0001" as is. */
static size_t body(char *out, const char *const *lines)
{
	size_t n = 0;

	for (; *lines != NULL; lines++) {
		if (strcmp(*lines, "0000") == 0 || strcmp(*lines, "0001") == 0)
			n += (size_t)sprintf(out + n, "%s", *lines);
		else
			n += (size_t)sprintf(out + n, "%04zx%s\n", strlen(*lines) + 5, *lines);
	}
	return n;
}

struct parse_case {
	int v2;
	const char *lines[12];
	int rc;
	const char *detail;             /* a part of the error message */
};

static const struct parse_case cases[] = {
	{ 0, { "0000", NULL }, 0, NULL },
	{ 0, { W " multi_ack_detailed side-band-64k", "0000", "done", NULL }, 0, NULL },
	{ 0, { W, "deepen 1", "0000", H, "0000", NULL }, 0, NULL },
	{ 0, { W, "0000", "done", H, NULL }, MARGO_EINVAL, "after done" },
	{ 0, { W, NULL }, MARGO_EINVAL, "without a flush" },
	{ 0, { "want 12345", "0000", NULL }, MARGO_EINVAL, "not an object id" },
	{ 0, { W, "deepen 0", "0000", NULL }, MARGO_EINVAL, "invalid deepen" },
	{ 0, { W, "deepen -1", "0000", NULL }, MARGO_EINVAL, "invalid deepen" },
	{ 0, { W, "deepen 1", "deepen-since 1700000000", "0000", NULL }, MARGO_EINVAL,
	  "cannot be used together" },
	{ 0, { W, "filter blob:none", "0000", NULL }, MARGO_EINVAL, "unexpected line" },
	{ 0, { W, "0000", H, "0000", H, NULL }, MARGO_EINVAL, "after the final flush" },
	{ 0, { W, "0001", NULL }, MARGO_EINVAL, "delimiter" },
	{ 1, { "command=ls-refs", "agent=git/2.39.5", "object-format=sha1", "0001", "peel",
	       "symrefs", "unborn", "ref-prefix HEAD", "0000", NULL }, 0, NULL },
	{ 1, { "command=fetch", "0001", "thin-pack", "ofs-delta", "no-progress", W, H, "done",
	       "0000", NULL }, 0, NULL },
	{ 1, { "command=fetch", "0001", W, "deepen 2", "deepen-relative", "shallow "
	       "3333333333333333333333333333333333333333", "0000", NULL }, 0, NULL },
	{ 1, { "command=fetch", "0001", W, "deepen-relative", "0000", NULL }, MARGO_EINVAL,
	  "deepen-relative without deepen" },
	{ 1, { "command=fetch", "0001", W, "filter blob:none", "0000", NULL }, MARGO_EINVAL,
	  "unsupported fetch argument" },
	{ 1, { "command=fetch", "0001", "want-ref refs/heads/main", "0000", NULL }, MARGO_EINVAL,
	  "unsupported fetch argument" },
	{ 1, { "command=fetch", "0001", "sideband-all", "0000", NULL }, MARGO_EINVAL,
	  "unsupported fetch argument" },
	{ 1, { "command=ls-refs", "0001", "ref-prefix", "0000", NULL }, MARGO_EINVAL,
	  "unsupported ls-refs argument" },
	{ 1, { "command=object-info", "0000", NULL }, MARGO_EINVAL, "unsupported command" },
	{ 1, { "command=fetch", "object-format=sha256", "0000", NULL }, MARGO_EINVAL,
	  "unsupported capability" },
	{ 1, { "command=fetch", "0001", W, NULL }, MARGO_EINVAL, "no flush" },
	{ 1, { "command=fetch", "0001", W, "0000", "0000", NULL }, MARGO_EINVAL,
	  "after the command's flush" },
	{ 1, { "0000", NULL }, MARGO_EINVAL, "no command" },
};

static void test_parse_table(void **state)
{
	char buf[4096];
	struct git_request req;
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = body(buf, cases[i].lines);
		int rc;

		margo_error_clear(&err);
		rc = git_request_parse(buf, n, cases[i].v2, &req, &err);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err.message);
		if (cases[i].detail != NULL && strstr(err.message, cases[i].detail) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.message,
				 cases[i].detail);
		git_request_free(&req);
	}
}

static void test_parse_fields(void **state)
{
	static const char *const v0[] = { W " multi_ack_detailed no-done side-band-64k "
					  "deepen-relative agent=git/2.39.5", "shallow "
					  "3333333333333333333333333333333333333333", "deepen 3",
					  "0000", H, H, "0000", NULL };
	static const char *const v2[] = { "command=ls-refs", "0001", "symrefs", "ref-prefix HEAD",
					  "ref-prefix refs/heads/", "0000", NULL };
	char buf[4096];
	struct git_request req;
	struct margo_error err;

	(void)state;
	assert_int_equal(git_request_parse(buf, body(buf, v0), 0, &req, &err), 0);
	assert_int_equal(req.command, GIT_COMMAND_FETCH);
	assert_int_equal(req.caps, GIT_CAP_MULTI_ACK_DETAILED | GIT_CAP_NO_DONE |
			 GIT_CAP_SIDE_BAND_64K | GIT_CAP_DEEPEN_RELATIVE);
	assert_int_equal(req.wants.n, 1);
	assert_int_equal(req.wants.ids[0][0], 0x11);
	assert_int_equal(req.haves.n, 2);
	assert_int_equal(req.shallows.n, 1);
	assert_int_equal(req.depth, 3);
	assert_int_equal(req.round, 1);
	assert_int_equal(req.done, 0);
	git_request_free(&req);

	assert_int_equal(git_request_parse(buf, body(buf, v2), 1, &req, &err), 0);
	assert_int_equal(req.command, GIT_COMMAND_LS_REFS);
	assert_true(req.symrefs);
	assert_false(req.peel);
	assert_int_equal(req.ref_prefixes.n, 2);
	assert_string_equal(req.ref_prefixes.names[1], "refs/heads/");
	git_request_free(&req);
}

static void test_pkt_framing(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} bad[] = {
		{ "00", MARGO_EINVAL }, { "zzzz", MARGO_EINVAL }, { "0003", MARGO_EINVAL },
		{ "0009abc", MARGO_EINVAL }, { "fff0", MARGO_EINVAL }, { "0006a\0", MARGO_EINVAL },
	};
	struct git_pkt_reader r;
	struct git_pkt *pkt = malloc(sizeof(*pkt));
	struct git_buf b = { 0 };
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		git_pkt_reader_init(&r, bad[i].in, strlen(bad[i].in) + (i == 5));
		assert_int_equal(git_pkt_read(&r, pkt, &err), bad[i].rc);
	}
	git_pkt_reader_init(&r, "0000000100020008abc\n0004", 24);
	assert_int_equal(git_pkt_read(&r, pkt, &err), 1);
	assert_int_equal(pkt->kind, GIT_PKT_FLUSH);
	assert_int_equal(git_pkt_read(&r, pkt, &err), 1);
	assert_int_equal(pkt->kind, GIT_PKT_DELIM);
	assert_int_equal(git_pkt_read(&r, pkt, &err), 1);
	assert_int_equal(pkt->kind, GIT_PKT_END);
	assert_int_equal(git_pkt_read(&r, pkt, &err), 1);
	assert_int_equal(pkt->kind, GIT_PKT_DATA);
	assert_string_equal(pkt->line, "abc");
	assert_int_equal(git_pkt_read(&r, pkt, &err), 1);
	assert_int_equal(pkt->len, 0);
	assert_int_equal(git_pkt_read(&r, pkt, &err), 0);
	free(pkt);

	git_buf_pkt(&b, "ACK %s\n", "x");
	git_buf_delim(&b);
	git_buf_flush(&b);
	assert_int_equal(b.len, 10 + 8);
	assert_memory_equal(b.data, "000aACK x\n00010000", 18);
	git_buf_free(&b);
}

static void test_limits(void **state)
{
	size_t n = 0, cap = (GIT_REQUEST_OIDS_MAX + 2) * 50 + 64;
	char *buf = malloc(cap);
	struct git_request req;
	struct margo_error err;

	(void)state;
	n += (size_t)sprintf(buf + n, "%04zx%s\n0000", strlen(W) + 5, W);
	for (size_t i = 0; i <= GIT_REQUEST_OIDS_MAX; i++)
		n += (size_t)sprintf(buf + n, "%04zx%s\n", strlen(H) + 5, H);
	n += (size_t)sprintf(buf + n, "0000");
	assert_int_equal(git_request_parse(buf, n, 0, &req, &err), MARGO_ELIMIT);
	git_request_free(&req);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_pkt_framing),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
