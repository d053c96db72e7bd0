/* git_upload.c: whole answers (advertisements, ls-refs, v0 and v2 fetch) over an in-memory
 * history, read back in small pieces, the pack demultiplexed from its side band. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "git_memsource.h"
#include "git_upload.h"

#define N 6

static struct mem_source m;
static unsigned char hist[N][20];
static char hx[N][41];

static int setup(void **state)
{
	(void)state;
	mem_init(&m);
	mem_history(&m, N, hist);
	for (size_t i = 0; i < N; i++)
		git_oid_to_hex(hist[i], hx[i]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_free(&m);
	return 0;
}

static size_t body(char *out, const char *const *lines)
{
	size_t n = 0;

	for (; *lines != NULL; lines++) {
		if (strlen(*lines) == 4 && strspn(*lines, "0") >= 3)
			n += (size_t)sprintf(out + n, "%s", *lines);
		else
			n += (size_t)sprintf(out + n, "%04zx%s\n", strlen(*lines) + 5, *lines);
	}
	return n;
}

/* The whole answer to lines, read 7 bytes at a time. */
static size_t answer(int v2, const char *const *lines, char **out)
{
	struct git_source src = mem_source_of(&m);
	struct git_upload *u;
	struct margo_error err;
	char req[4096], *buf = malloc(1 << 20);
	size_t len = 0;
	ssize_t n;

	assert_int_equal(git_upload_new(&src, req, body(req, lines), v2, &u, &err), 0);
	while ((n = git_upload_read(u, buf + len, 7, &err)) > 0)
		len += (size_t)n;
	assert_int_equal(n, 0);
	git_upload_free(u);
	*out = buf;
	return len;
}

/* Demultiplexes band 1 of side-band pkt-lines at p (until a flush) into pack; returns the
 * bytes of p consumed. */
static size_t demux(const char *p, size_t len, char *pack, size_t *pack_len)
{
	size_t off = 0, n;
	char hex[5] = "";

	*pack_len = 0;
	while (off + 4 <= len) {
		memcpy(hex, p + off, 4);
		n = strtoul(hex, NULL, 16);
		if (n == 0)
			return off + 4;
		assert_true(n > 5 && n <= 65520 && off + n <= len);
		assert_int_equal(p[off + 4], 1);
		memcpy(pack + *pack_len, p + off + 5, n - 5);
		*pack_len += n - 5;
		off += n;
	}
	fail_msg("no flush after the pack");
	return 0;
}

static uint32_t pack_count(const char *pack)
{
	const unsigned char *u = (const unsigned char *)pack;

	assert_memory_equal(pack, "PACK\0\0\0\2", 8);
	return (uint32_t)u[8] << 24 | (uint32_t)u[9] << 16 | (uint32_t)u[10] << 8 | u[11];
}

static void test_advertise(void **state)
{
	struct git_source src = mem_source_of(&m);
	struct git_buf b = { 0 };
	struct margo_error err;
	char want[1024];
	int n;

	(void)state;
	assert_int_equal(git_upload_advertise(&src, 0, &b, &err), 0);
	n = sprintf(want, "%04zx%s HEAD%c%s\n", 4 + 40 + 6 + strlen(GIT_UPLOAD_CAPS_V0) + 1, hx[N - 1],
		    '\0', GIT_UPLOAD_CAPS_V0);
	n += sprintf(want + n, "003d%s refs/heads/main\n0000", hx[N - 1]);
	assert_int_equal(b.len, (size_t)n);
	assert_memory_equal(b.data, want, (size_t)n);
	git_buf_free(&b);
	m.has_main = 0;
	assert_int_equal(git_upload_advertise(&src, 0, &b, &err), 0);
	assert_non_null(memmem(b.data, b.len, "0000000000000000000000000000000000000000 "
			       "capabilities^{}", 56));
	git_buf_free(&b);
	m.has_main = 1;
}

static void test_ls_refs(void **state)
{
	static const char *const all[] = { "command=ls-refs", "0001", "symrefs", "0000", NULL };
	static const char *const heads[] = { "command=ls-refs", "0001", "ref-prefix refs/heads/",
					     "0000", NULL };
	char *out, want[512];
	size_t len;
	int n;

	(void)state;
	len = answer(1, all, &out);
	n = sprintf(want, "0050%s HEAD symref-target:refs/heads/main\n003d%s refs/heads/main\n0000",
		    hx[N - 1], hx[N - 1]);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(out, want, len);
	free(out);
	len = answer(1, heads, &out);
	n = sprintf(want, "003d%s refs/heads/main\n0000", hx[N - 1]);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(out, want, len);
	free(out);
}

static void test_v0_no_done(void **state)
{
	char want_line[128], have_line[64], *out, expect[512];
	const char *lines[] = { want_line, "0000", have_line, "0000", NULL };
	size_t len;
	int n;

	(void)state;
	sprintf(want_line, "want %s multi_ack_detailed no-done", hx[N - 1]);
	sprintf(have_line, "have %s", hx[N - 2]);
	len = answer(0, lines, &out);
	n = sprintf(expect, "0038ACK %s common\n0037ACK %s ready\n0008NAK\n0031ACK %s\n",
		    hx[N - 2], hx[N - 2], hx[N - 2]);
	assert_true(len > (size_t)n + 12);
	assert_memory_equal(out, expect, (size_t)n);
	/* no side band asked: the raw pack, four objects */
	assert_int_equal(pack_count(out + n), 4);
	free(out);

	/* without no-done: acknowledgments only, the client must send done */
	sprintf(want_line, "want %s multi_ack_detailed", hx[N - 1]);
	len = answer(0, lines, &out);
	n = sprintf(expect, "0038ACK %s common\n0037ACK %s ready\n0008NAK\n", hx[N - 2], hx[N - 2]);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(out, expect, len);
	free(out);
}

static void test_v2_shallow_clone(void **state)
{
	char want_line[64], *out, *pack = malloc(1 << 20), expect[256];
	const char *lines[] = { "command=fetch", "0001", want_line, "deepen 1", "done", "0000",
				NULL };
	size_t len, pack_len, used;
	int n;

	(void)state;
	sprintf(want_line, "want %s", hx[N - 1]);
	len = answer(1, lines, &out);
	n = sprintf(expect, "0011shallow-info\n0035shallow %s\n0001000dpackfile\n", hx[N - 1]);
	assert_memory_equal(out, expect, (size_t)n);
	used = demux(out + n, len - (size_t)n, pack, &pack_len);
	assert_int_equal((size_t)n + used, len);
	/* main, its two trees, its five blobs */
	assert_int_equal(pack_count(pack), 3 + 5);
	free(out);
	free(pack);
}

static void test_v2_negotiation(void **state)
{
	char want_line[64], have_line[64], *out, expect[256];
	const char *lines[] = { "command=fetch", "0001", want_line, have_line, "0000", NULL };
	size_t len;
	int n;

	(void)state;
	sprintf(want_line, "want %s", hx[N - 1]);
	sprintf(have_line, "have %s", "4242424242424242424242424242424242424242");
	len = answer(1, lines, &out);
	n = sprintf(expect, "0014acknowledgments\n0008NAK\n0000");
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(out, expect, len);
	free(out);

	sprintf(have_line, "have %s", hx[2]);
	len = answer(1, lines, &out);
	n = sprintf(expect, "0014acknowledgments\n0031ACK %s\n000aready\n0001000dpackfile\n",
		    hx[2]);
	assert_true(len > (size_t)n);
	assert_memory_equal(out, expect, (size_t)n);
	free(out);
}

static void test_refusals(void **state)
{
	char want_line[64], *out;
	const char *lines[] = { "command=fetch", "0001", want_line, "done", "0000", NULL };
	struct git_source src = mem_source_of(&m);
	struct git_upload *u;
	struct margo_error err;
	size_t len;

	(void)state;
	sprintf(want_line, "want %s", "4242424242424242424242424242424242424242");
	len = answer(1, lines, &out);
	assert_true(len > 8);
	assert_memory_equal(out + 4, "ERR upload-pack: not our ref 4242", 33);
	free(out);
	assert_int_equal(git_upload_new(&src, "00zz", 4, 1, &u, &err), MARGO_EINVAL);
	assert_null(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_advertise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ls_refs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v0_no_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_shallow_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
