/* git_pack.c: packs of an in-memory history written in pieces of every size, read back by
 * git itself (`git index-pack --strict`, `git verify-pack`); needs git on PATH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "git_fetch.h"
#include "git_memsource.h"
#include "git_pack.h"

#define N 10

static struct mem_source m;
static struct git_source src;
static unsigned char hist[N][20];
static char dir[64];

static int setup(void **state)
{
	(void)state;
	mem_init(&m);
	mem_history(&m, N, hist);
	src = mem_source_of(&m);
	snprintf(dir, sizeof(dir), "/tmp/test-git-pack.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	mem_free(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* The pack of every object, read chunk bytes at a time, into *out. */
static size_t write_pack(size_t chunk, unsigned char **out)
{
	struct git_oids all = { 0 };
	struct git_pack *p;
	struct margo_error err;
	size_t len = 0, cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	ssize_t n;

	for (size_t i = 0; i < m.n; i++) {
		all.ids = realloc(all.ids, (all.n + 1) * sizeof(*all.ids));
		memcpy(all.ids[all.n++], m.objs[i].oid, 20);
	}
	assert_int_equal(git_pack_new(&src, &all, &p, &err), 0);
	assert_null(all.ids);
	while ((n = git_pack_read(p, buf + len, chunk, &err)) > 0) {
		assert_true((size_t)n <= chunk);
		len += (size_t)n;
		assert_true(len + chunk < cap);
	}
	assert_int_equal(n, 0);
	assert_int_equal(git_pack_objects_done(p), m.n);
	assert_int_equal(git_pack_bytes_done(p), len);
	assert_int_equal(git_pack_read(p, buf, chunk, &err), 0);
	git_pack_free(p);
	*out = buf;
	return len;
}

static void save(const char *name, const unsigned char *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, dir, arg);
	return system(cmd);
}

static void test_git_reads_it_back(void **state)
{
	unsigned char *a, *b;
	size_t la, lb;
	char hex[41], line[160], count[32];

	(void)state;
	la = write_pack(65536, &a);
	/* the same bytes whatever the reader's buffer */
	for (size_t chunk = 1; chunk < 40; chunk += 7) {
		lb = write_pack(chunk, &b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		free(b);
	}
	assert_memory_equal(a, "PACK\0\0\0\2", 8);
	save("p.pack", a, la);
	free(a);
	assert_int_equal(sh("cd %s && git init -q --bare r.git && GIT_DIR=r.git git index-pack "
			    "--strict -o p.idx p.pack >index.out 2>&1%s", ""), 0);
	assert_int_equal(sh("cd %s && git verify-pack -v p.idx >verify.out 2>&1%s", ""), 0);
	/* every object is in it, as a whole object (no deltas) */
	for (size_t i = 0; i < m.n; i++) {
		git_oid_to_hex(m.objs[i].oid, hex);
		snprintf(line, sizeof(line), "grep -q '^%s ' %%s/verify.out%%s", hex);
		assert_int_equal(sh(line, ""), 0);
	}
	snprintf(count, sizeof(count), "%zu objects", m.n);
	assert_int_equal(sh("grep -q 'non delta: %2$s' %1$s/verify.out", count), 0);
	/* and the main commit's tree checks out */
	git_oid_to_hex(hist[N - 1], hex);
	assert_int_equal(sh("cd %s && cp p.pack p.idx r.git/objects/pack/ && "
			    "git --git-dir=r.git fsck --strict --no-dangling %s >fsck.out 2>&1", hex), 0);
}

static void test_missing_object(void **state)
{
	struct git_oids some = { 0 };
	struct git_pack *p;
	struct margo_error err;
	unsigned char buf[4096];
	ssize_t n;

	(void)state;
	some.ids = calloc(2, 20);
	memcpy(some.ids[0], hist[1], 20);
	memset(some.ids[1], 0x77, 20);
	some.n = 2;
	assert_int_equal(git_pack_new(&src, &some, &p, &err), 0);
	do
		n = git_pack_read(p, buf, sizeof(buf), &err);
	while (n > 0);
	assert_int_equal(n, MARGO_ENOTFOUND);
	assert_non_null(strstr(err.message, "7777777777"));
	git_pack_free(p);
	git_pack_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_git_reads_it_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_object, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
