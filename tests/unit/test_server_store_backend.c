/* store.c and store_backend.h: the backend's table of functions is complete (no NULL member,
 * so no store_* call can jump to address 0), every store_* call and store_close go through
 * the table of the store they are given, with their arguments and result unchanged (the
 * fixture's backend: SQLite, or PostgreSQL under WFMD_TEST_PG, store_fixture.h),
 * and store_open_url opens SQLite without a URL, refuses unknown schemes and URLs carrying a
 * password without repeating them, and says so plainly when PostgreSQL was not built in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "store_backend.h"
#include "store_fixture.h"
#include "store_fleet.h"
#include "store_page.h"

/* Any function pointer (all have one size and representation on our platforms). */
typedef void (*any_fn)(void);

static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store_backend.XXXXXX");
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* How many members after name there are (*n) and how many of them are NULL, each read as
 * the function pointer it is. */
static size_t null_members(const struct store_ops *ops, size_t *n)
{
	size_t first = offsetof(struct store_ops, close), nulls = 0;
	any_fn fn;

	/* The members are all function pointers: no padding, no other field among them. */
	assert_int_equal((sizeof(*ops) - first) % sizeof(any_fn), 0);
	*n = (sizeof(*ops) - first) / sizeof(any_fn);
	for (size_t i = 0; i < *n; i++) {
		memcpy(&fn, (const char *)ops + first + i * sizeof(any_fn), sizeof(fn));
		nulls += fn == NULL;
	}
	return nulls;
}

static void test_ops_complete(void **state)
{
	struct fixture *f = *state;
	struct store_ops holed;
	size_t n;

	assert_non_null(f->st->ops);
	assert_string_equal(f->st->ops->name, f->pg ? "postgresql" : "sqlite");
	assert_int_equal(null_members(f->st->ops, &n), 0);
	/* close, batch_begin, batch_end and the 57 functions of store.h and its continuations */
	assert_true(n >= 60);
	/* The check sees a member a backend forgot, wherever it is. */
	holed = *f->st->ops;
	holed.deployment_status_seq = NULL;
	holed.close = NULL;
	assert_int_equal(null_members(&holed, &n), 2);
}

/* ---- dispatch through a spy table ---- */

static struct {
	const struct store_ops *real;
	store *st;
	const char *id;
	int64_t now;
	struct store_device *out;
	struct margo_error *err;
	int calls, closed, scanned;
} spy;

static int spy_device_get(store *st, const char *id, int64_t now, struct store_device *out,
			  struct margo_error *err)
{
	spy.calls++;
	spy.st = st;
	spy.id = id;
	spy.now = now;
	spy.out = out;
	spy.err = err;
	return spy.real->device_get(st, id, now, out, err);
}

static int spy_ping(store *st, struct margo_error *err)
{
	(void)st;
	spy.calls++;
	return margo_error_set(err, MARGO_ELIMIT, "spy says busy");
}

static int spy_fleet_scan(store *st, const char *state, const char *after,
			  int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
			  struct margo_error *err)
{
	struct store_fleet_device d = { .id = "spy-device", .state = state };

	(void)st;
	(void)after;
	(void)err;
	spy.calls++;
	return fn(ctx, &d);
}

static int count_device(void *ctx, const struct store_fleet_device *d)
{
	assert_string_equal(d->id, "spy-device");
	assert_string_equal(d->state, "active");
	(*(int *)ctx)++;
	return 7;
}

static void spy_close(store *st)
{
	spy.closed++;
	spy.real->close(st);
}

static void test_calls_go_through_the_table(void **state)
{
	struct fixture *f = *state;
	struct store_ops table;
	struct store_device d;
	struct margo_error err;
	int seen = 0;

	memset(&spy, 0, sizeof(spy));
	spy.real = f->st->ops;
	table = *spy.real;
	table.device_get = spy_device_get;
	table.ping = spy_ping;
	table.fleet_scan = spy_fleet_scan;
	table.close = spy_close;
	f->st->ops = &table;

	/* Arguments reach the backend as given, its answer comes back as it is. */
	assert_int_equal(store_device_get(f->st, "no-such-device", 1234, &d, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(spy.calls, 1);
	assert_ptr_equal(spy.st, f->st);
	assert_string_equal(spy.id, "no-such-device");
	assert_int_equal(spy.now, 1234);
	assert_ptr_equal(spy.out, &d);
	assert_ptr_equal(spy.err, &err);
	assert_non_null(strstr(err.message, "no-such-device"));

	assert_int_equal(store_ping(f->st, &err), MARGO_ELIMIT);
	assert_string_equal(err.message, "spy says busy");
	assert_int_equal(store_fleet_scan(f->st, "active", NULL, count_device, &seen, &err), 7);
	assert_int_equal(seen, 1);
	assert_int_equal(spy.calls, 3);

	/* Members left as they were still reach the backend. */
	assert_int_equal(store_device_count_by_state(f->st, (int64_t[4]){ 0 }, &err), 0);
	assert_int_equal(spy.calls, 3);

	/* store_close goes through the table too (the real close frees the store). */
	store_close(f->st);
	assert_int_equal(spy.closed, 1);
	f->st = NULL;
	store_close(NULL);
	assert_int_equal(spy.closed, 1);
}

/* ---- store_open_url ---- */

static void test_open_url_without_url_is_sqlite(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char path[160];
	store *st = NULL;

	snprintf(path, sizeof(path), "%s/other.db", f->dir);
	assert_int_equal(store_open_url(NULL, path, &st, &err), 0);
	assert_non_null(st);
	assert_string_equal(st->ops->name, "sqlite");
	assert_int_equal(store_ping(st, &err), 0);
	store_close(st);
	assert_int_equal(access(path, F_OK), 0);
}

struct url_case {
	const char *url;
	int rc;                 /* store_open_url's answer */
	const char *says;       /* in the message */
	const char *secret;     /* never in the message (NULL: none) */
};

static const struct url_case url_cases[] = {
	{ "mysql://wfmd:hunter2@db.example/wfmd", MARGO_EINVAL,
	  "unknown store URL scheme 'mysql'", "hunter2" },
	{ "sqlite:///var/lib/wfmd/wfmd.db", MARGO_EINVAL, "unknown store URL scheme 'sqlite'",
	  NULL },
	{ "/var/lib/wfmd/wfmd.db", MARGO_EINVAL, "starts with postgresql://", NULL },
	{ "", MARGO_EINVAL, "starts with postgresql://", NULL },
	{ "postgresql://wfmd:hunter2@db.example/wfmd", MARGO_EINVAL, "~/.pgpass", "hunter2" },
	{ "postgres://wfmd:hunter2@db.example:5433/wfmd", MARGO_EINVAL, "PGPASSFILE", "hunter2" },
	{ "postgresql://db.example/wfmd?password=hunter2", MARGO_EINVAL, "~/.pgpass",
	  "hunter2" },
	{ "postgresql://db.example/wfmd?sslmode=require&password=hunter2", MARGO_EINVAL,
	  "~/.pgpass", "hunter2" },
};

/* URLs a wfmd with PostgreSQL would connect to: a port is not a password. */
static const char *const pg_urls[] = {
	"postgresql://wfmd@127.0.0.1:5432/wfmd",
	"postgres://db.example/wfmd?sslmode=require",
	"postgresql:///wfmd?host=/run/postgresql",
};

static void test_open_url_refusals(void **state)
{
	struct margo_error err;
	store *st = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];

		margo_error_clear(&err);
		assert_int_equal(store_open_url(c->url, "/nonexistent/wfmd.db", &st, &err), c->rc);
		assert_null(st);
		if (strstr(err.message, c->says) == NULL)
			fail_msg("%s: '%s' does not say '%s'", c->url, err.message, c->says);
		if (c->secret != NULL && strstr(err.message, c->secret) != NULL)
			fail_msg("%s: the message repeats the password: %s", c->url, err.message);
		assert_null(strchr(err.message, '\n'));
		assert_int_equal(store_url_check(c->url, &err), c->rc);
	}
	for (size_t i = 0; i < sizeof(pg_urls) / sizeof(pg_urls[0]); i++) {
#ifdef WFMD_HAVE_POSTGRESQL
		assert_int_equal(store_url_check(pg_urls[i], &err), 0);
#else
		margo_error_clear(&err);
		assert_int_equal(store_open_url(pg_urls[i], "/nonexistent/wfmd.db", &st, &err),
				 MARGO_EUNSUPPORTED);
		assert_null(st);
		assert_string_equal(err.message, "this wfmd was built without PostgreSQL support");
#endif
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ops_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_go_through_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_url_without_url_is_sqlite, setup,
						teardown),
		cmocka_unit_test(test_open_url_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
