/* git_fetch.c: negotiation, shallow boundaries and the objects of a pack, over an in-memory
 * history like a device's (git_memsource.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "git_fetch.h"
#include "git_memsource.h"

#define N 12

static struct mem_source m;
static struct git_source src;
static unsigned char hist[2100][20];

static int setup(void **state)
{
	(void)state;
	mem_init(&m);
	mem_history(&m, N, hist);
	src = mem_source_of(&m);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_free(&m);
	return 0;
}

static void add(struct git_oids *a, const unsigned char *oid)
{
	a->ids = realloc(a->ids, (a->n + 1) * sizeof(*a->ids));
	memcpy(a->ids[a->n++], oid, 20);
}

static int has(const struct git_oids *a, const unsigned char *oid)
{
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->ids[i], oid, 20) == 0)
			return 1;
	return 0;
}

/* Runs negotiate, shallow and objects for req. */
static int run(struct git_request *req, struct git_fetch *f, struct margo_error *err)
{
	int rc = git_fetch_negotiate(f, &src, req, err);

	if (rc == 0)
		rc = git_fetch_shallow(f, err);
	if (rc == 0)
		rc = git_fetch_objects(f, err);
	return rc;
}

static void test_clone(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;

	(void)state;
	add(&req.wants, hist[N - 1]);
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.common.n, 0);
	/* every object is reachable from main here: the pack holds them all, once */
	assert_int_equal(f.objects.n, m.n);
	for (size_t i = 0; i < N; i++)
		assert_true(has(&f.objects, hist[i]));
	assert_memory_equal(f.objects.ids[0], hist[N - 1], 20);
	git_fetch_free(&f);
	git_request_free(&req);
}

static void test_one_new_commit(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;
	unsigned char unknown[20];

	(void)state;
	memset(unknown, 0x42, 20);
	add(&req.wants, hist[N - 1]);
	add(&req.haves, unknown);
	add(&req.haves, hist[N - 2]);
	add(&req.haves, hist[N - 3]);
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.common.n, 2);
	assert_memory_equal(f.common.ids[0], hist[N - 2], 20);
	assert_true(f.ready);
	/* the commit, its root tree, deployments/ and the one changed blob */
	assert_int_equal(f.objects.n, 4);
	assert_memory_equal(f.objects.ids[0], hist[N - 1], 20);
	git_fetch_free(&f);
	git_request_free(&req);
}

static void test_nothing_common(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;
	unsigned char unknown[20];

	(void)state;
	memset(unknown, 0x42, 20);
	add(&req.wants, hist[N - 1]);
	add(&req.haves, unknown);
	assert_int_equal(git_fetch_negotiate(&f, &src, &req, &err), 0);
	assert_int_equal(f.common.n, 0);
	assert_false(f.ready);
	git_fetch_free(&f);
	git_request_free(&req);
}

static void test_wants(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;
	unsigned char tree_oid[20], stranger[20];

	(void)state;
	/* an older commit (main moved since the client's info/refs) is served */
	add(&req.wants, hist[3]);
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_true(has(&f.objects, hist[0]));
	assert_false(has(&f.objects, hist[4]));
	git_fetch_free(&f);
	git_request_free(&req);

	/* a commit not reachable from main, a tree, an unknown id: "not our ref" */
	mem_commit(&m, hist[0], NULL, 1, "stranger", stranger);
	memcpy(tree_oid, m.objs[0].oid, 20);
	const unsigned char *bad[] = { stranger, tree_oid, (const unsigned char *)"01234567890123456789" };
	for (size_t i = 0; i < 3; i++) {
		memset(&req, 0, sizeof(req));
		add(&req.wants, hist[N - 1]);
		add(&req.wants, bad[i]);
		assert_int_equal(git_fetch_negotiate(&f, &src, &req, &err), MARGO_EINVAL);
		assert_non_null(strstr(err.message, "not our ref"));
		git_fetch_free(&f);
		git_request_free(&req);
	}
}

static void test_depth(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;

	(void)state;
	add(&req.wants, hist[N - 1]);
	req.depth = 1;
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.shallow.n, 1);
	assert_memory_equal(f.shallow.ids[0], hist[N - 1], 20);
	assert_int_equal(f.unshallow.n, 0);
	/* main, its root tree, deployments/, 8 blobs */
	assert_int_equal(f.objects.n, 3 + 8);
	git_fetch_free(&f);
	git_request_free(&req);

	/* deepen by 2 from that boundary (git fetch --deepen=2) */
	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[N - 1]);
	add(&req.haves, hist[N - 1]);
	add(&req.shallows, hist[N - 1]);
	req.depth = 2;
	req.caps = GIT_CAP_DEEPEN_RELATIVE;
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.shallow.n, 1);
	assert_memory_equal(f.shallow.ids[0], hist[N - 3], 20);
	assert_int_equal(f.unshallow.n, 1);
	assert_memory_equal(f.unshallow.ids[0], hist[N - 1], 20);
	assert_true(has(&f.objects, hist[N - 2]));
	assert_true(has(&f.objects, hist[N - 3]));
	assert_false(has(&f.objects, hist[N - 1]));
	assert_false(has(&f.objects, hist[N - 4]));
	git_fetch_free(&f);
	git_request_free(&req);

	/* a depth past the root: no boundary, the client's old one is lifted */
	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[N - 1]);
	add(&req.haves, hist[N - 1]);
	add(&req.shallows, hist[N - 1]);
	req.depth = 0x7fffffff;
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.shallow.n, 0);
	assert_int_equal(f.unshallow.n, 1);
	assert_true(has(&f.objects, hist[0]));
	git_fetch_free(&f);
	git_request_free(&req);
}

static void test_shallow_client_fetch(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;

	(void)state;
	/* a depth-1 clone at N-2 fetches main: only the new commit, its parent is not sent
	 * again, nothing behind the client's boundary */
	add(&req.wants, hist[N - 1]);
	add(&req.haves, hist[N - 2]);
	add(&req.shallows, hist[N - 2]);
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.shallow.n, 0);
	assert_int_equal(f.unshallow.n, 0);
	assert_int_equal(f.objects.n, 4);
	git_fetch_free(&f);
	git_request_free(&req);
}

static void test_deepen_since_not(void **state)
{
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;

	(void)state;
	add(&req.wants, hist[N - 1]);
	req.deepen_since = 1700000000 + 100 * (N - 3);      /* the last three commits */
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.shallow.n, 1);
	assert_memory_equal(f.shallow.ids[0], hist[N - 3], 20);
	assert_true(has(&f.objects, hist[N - 3]));
	assert_false(has(&f.objects, hist[N - 4]));
	git_fetch_free(&f);
	git_request_free(&req);

	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[N - 1]);
	req.deepen_since = 1900000000;
	assert_int_equal(run(&req, &f, &err), MARGO_EINVAL);
	assert_non_null(strstr(err.message, "no commits selected"));
	git_fetch_free(&f);
	git_request_free(&req);

	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[N - 1]);
	req.deepen_not.names[req.deepen_not.n++] = strdup("refs/heads/main");
	assert_int_equal(run(&req, &f, &err), MARGO_EINVAL);
	git_fetch_free(&f);
	git_request_free(&req);

	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[N - 1]);
	req.deepen_not.names[req.deepen_not.n++] = strdup("refs/tags/v1");
	assert_int_equal(run(&req, &f, &err), MARGO_EINVAL);
	assert_non_null(strstr(err.message, "no such reference"));
	git_fetch_free(&f);
	git_request_free(&req);
}

/* A fetch of one new commit reads the same few objects whatever the history's length. */
static void test_independent_of_history(void **state)
{
	struct mem_source big;
	struct git_source save = src;
	struct git_request req = { 0 };
	struct git_fetch f;
	struct margo_error err;
	size_t reads_small, reads_big;

	(void)state;
	add(&req.wants, hist[N - 1]);
	add(&req.haves, hist[N - 2]);
	m.reads = 0;
	assert_int_equal(run(&req, &f, &err), 0);
	reads_small = m.reads;
	git_fetch_free(&f);
	git_request_free(&req);

	mem_init(&big);
	mem_history(&big, 2000, hist);
	src = mem_source_of(&big);
	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[1999]);
	add(&req.haves, hist[1998]);
	assert_int_equal(run(&req, &f, &err), 0);
	reads_big = big.reads;
	assert_int_equal(f.objects.n, 4);
	assert_true(f.ncommits <= 3);
	git_fetch_free(&f);
	git_request_free(&req);
	assert_int_equal(reads_small, reads_big);

	/* and a depth-1 clone of it: one commit's objects */
	memset(&req, 0, sizeof(req));
	add(&req.wants, hist[1999]);
	req.depth = 1;
	req.done = 1;
	assert_int_equal(run(&req, &f, &err), 0);
	assert_int_equal(f.objects.n, 3 + 8);
	assert_true(f.ncommits <= 2);
	git_fetch_free(&f);
	git_request_free(&req);
	mem_free(&big);
	src = save;
	/* restore the small history's ids */
	mem_free(&m);
	setup(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_new_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_common, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shallow_client_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deepen_since_not, setup, teardown),
		cmocka_unit_test_setup_teardown(test_independent_of_history, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
