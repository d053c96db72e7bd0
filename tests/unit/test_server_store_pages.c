/* store_page.h and store_operator.h against a real store (SQLite, or PostgreSQL under
 * WFMD_TEST_PG: store_fixture.h): keyset pages of devices walk the whole filtered set exactly
 * once in (created_at, id) order, whatever the page size and whatever rows are added
 * meanwhile (filtered by deployment state too, its latest-status rows kept by schema step 6's
 * triggers); a device's deployments; the console summary's failing deployments; operators and
 * the audit log. Devices are put in with SQL both backends accept (store_fixture_sql, set-up
 * only); every read goes through the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"
#include "store_console.h"
#include "store_fixture.h"
#include "store_operator.h"
#include "store_page.h"

#define T0 1800000000
#define NDEV 240

static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store_pages.XXXXXX");
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* Reports that must not change the deployment-state filter's answer (m_failed): a second
 * Failed deployment for i % 14 == 0 (the device is still listed once); for i % 11 == 0, a
 * Failed report of a deployment wfmd did not deploy; for i % 13 == 0, a deployment whose
 * Failed report was followed by Installed (both only when i % 7 != 0). */
static void device_insert_more_reports(struct fixture *f, int i)
{
	char id[40], text[1024];

	snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012d", (unsigned)((i * 7919) % 1000003), i);
	if (i % 14 == 0) {
		snprintf(text, sizeof(text),
			 "INSERT INTO deployments (device_id, deployment_id, name, application_id,"
			 " created_at, updated_at) VALUES ('%s', 'd2', 'n', 'a', 0, 0);"
			 "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
			 " received_at) VALUES ('%s', 'd2', 'Failed', '{}', 2);", id, id);
		store_fixture_sql(f, text);
	}
	if (i % 11 == 0 && i % 7 != 0) {
		snprintf(text, sizeof(text),
			 "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
			 " received_at) VALUES ('%s', 'r1', 'Failed', '{}', 3);", id);
		store_fixture_sql(f, text);
	}
	if (i % 13 == 0 && i % 7 != 0) {
		snprintf(text, sizeof(text),
			 "INSERT INTO deployments (device_id, deployment_id, name, application_id,"
			 " created_at, updated_at) VALUES ('%s', 'd3', 'n', 'a', 0, 0);"
			 "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
			 " received_at) VALUES ('%s', 'd3', 'Failed', '{}', 4),"
			 " ('%s', 'd3', 'Installed', '{}', 5);", id, id, id);
		store_fixture_sql(f, text);
	}
}

/* Device i: created at T0 + i / 3 (so created_at ties, broken by id), ids not in creation
 * order, vendor acme for even i, serial SN-<i>, state by i % 4, last seen for i % 5 != 0,
 * a Failed deployment for i % 7 == 0. */
static void device_insert(struct fixture *f, int i)
{
	static const char *const states[4] = { "pending", "active", "rejected", "revoked" };
	char text[1024];

	snprintf(text, sizeof(text),
		 "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint, keyid,"
		 " vendor, model_number, serial_number, created_at, last_seen_at) VALUES"
		 " ('%08x-0000-4000-8000-%012d', '%s', 'PEM', 'sha256:%064d', 'k', '%s', 'm%d',"
		 " 'SN-%d', %d, %s);",
		 (unsigned)((i * 7919) % 1000003), i, states[i % 4], i, i % 2 ? "other" : "acme",
		 i % 3, i, T0 + i / 3, i % 5 ? "1800000500" : "NULL");
	store_fixture_sql(f, text);
	if (i % 7 == 0) {
		snprintf(text, sizeof(text),
			 "INSERT INTO deployments (device_id, deployment_id, name, application_id,"
			 " created_at, updated_at) VALUES ('%08x-0000-4000-8000-%012d', 'd1', 'n',"
			 " 'a', 0, 0);"
			 "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
			 " received_at) VALUES ('%08x-0000-4000-8000-%012d', 'd1', 'Installing', '{}',"
			 " 0), ('%08x-0000-4000-8000-%012d', 'd1', 'Failed', '{}', 1);",
			 (unsigned)((i * 7919) % 1000003), i, (unsigned)((i * 7919) % 1000003), i,
			 (unsigned)((i * 7919) % 1000003), i);
		store_fixture_sql(f, text);
	}
	device_insert_more_reports(f, i);
}

/* Walks every page of f with page size limit; returns the serial numbers seen, in order,
 * joined by ','. Inserts device extra (when >= 0) after the first page. */
static char *walk(struct fixture *fx, const struct store_device_filter *f, size_t limit,
		  int extra)
{
	struct store_cursor after;
	struct store_device *items;
	struct margo_error err;
	size_t n, len = 0, pages = 0;
	char *out = calloc(1, 64 * 1024);
	int more;

	assert_non_null(out);
	memset(&after, 0, sizeof(after));
	do {
		assert_int_equal(store_device_page(fx->st, f, &after, limit, T0, &items, &n, &more,
						   &err), 0);
		assert_true(n <= limit);
		assert_true(!more || n == limit);
		for (size_t i = 0; i < n; i++)
			len += (size_t)sprintf(out + len, "%s,", items[i].serial_number);
		if (n > 0) {
			after.set = 1;
			after.at = items[n - 1].created_at;
			strcpy(after.key, items[n - 1].id);
		}
		store_devices_free(items, n);
		if (pages++ == 0 && extra >= 0)
			device_insert(fx, extra);
	} while (more);
	return out;
}

/* The same set by brute force over all devices 0..count-1 in (created_at, id) order: the
 * expected walk. */
struct expect_row {
	int created;
	char id[40];
	int i;
};

static int expect_cmp(const void *a, const void *b)
{
	const struct expect_row *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

static char *expect(int count, int (*match)(int i))
{
	struct expect_row rows[NDEV + 10];
	char *out = calloc(1, 64 * 1024);
	size_t len = 0, n = 0;

	assert_non_null(out);
	for (int i = 0; i < count; i++) {
		if (!match(i))
			continue;
		rows[n].created = T0 + i / 3;
		snprintf(rows[n].id, sizeof(rows[n].id), "%08x-0000-4000-8000-%012d",
			 (unsigned)((i * 7919) % 1000003), i);
		rows[n++].i = i;
	}
	qsort(rows, n, sizeof(rows[0]), expect_cmp);
	for (size_t k = 0; k < n; k++)
		len += (size_t)sprintf(out + len, "SN-%d,", rows[k].i);
	return out;
}

static int m_all(int i) { (void)i; return 1; }
static int m_active(int i) { return i % 4 == 1; }
static int m_acme_active(int i) { return i % 2 == 0 && i % 4 == 1; }
static int m_serial_12(int i) { char b[16]; snprintf(b, sizeof(b), "%d", i); return b[0] == '1' && b[1] == '2'; }
static int m_never(int i) { return i % 5 == 0; }
static int m_seen(int i) { return i % 5 != 0; }
static int m_failed(int i) { return i % 7 == 0; }
static int m_model(int i) { return i % 3 == 2; }
static int m_none(int i) { (void)i; return 0; }

struct filter_case {
	const char *what;
	struct store_device_filter f;
	int (*match)(int i);
};

static void test_device_pages(void **state)
{
	struct fixture *f = *state;
	const struct filter_case cases[] = {
		{ "all", { NULL, NULL, NULL, NULL, NULL, -1, -1, NULL }, m_all },
		{ "state", { "active", NULL, NULL, NULL, NULL, -1, -1, NULL }, m_active },
		{ "state+vendor", { "active", "acme", NULL, NULL, NULL, -1, -1, NULL },
		  m_acme_active },
		{ "model", { NULL, NULL, "m2", NULL, NULL, -1, -1, NULL }, m_model },
		{ "serial prefix", { NULL, NULL, NULL, "SN-12", NULL, -1, -1, NULL }, m_serial_12 },
		{ "seen before", { NULL, NULL, NULL, NULL, NULL, 1800000400, -1, NULL }, m_never },
		{ "seen after", { NULL, NULL, NULL, NULL, NULL, -1, 1800000500, NULL }, m_seen },
		{ "deployment state", { NULL, NULL, NULL, NULL, NULL, -1, -1, "Failed" },
		  m_failed },
		{ "deployment state none", { NULL, NULL, NULL, NULL, NULL, -1, -1, "Installing" },
		  m_none },
		{ "id prefix none", { NULL, NULL, NULL, NULL, "ffffffff", -1, -1, NULL }, m_none },
	};
	const size_t limits[] = { 1, 7, 100, 1000 };

	for (int i = 0; i < NDEV; i++)
		device_insert(f, i);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char *want = expect(NDEV, cases[c].match);

		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
			char *got = walk(f, &cases[c].f, limits[l], -1);

			if (strcmp(got, want) != 0)
				fail_msg("%s, limit %zu: got %.200s, want %.200s", cases[c].what,
					 limits[l], got, want);
			free(got);
		}
		free(want);
	}
}

/* A device created during the walk, after the cursor, is seen once; none is lost or seen
 * twice. */
static void test_device_pages_concurrent_insert(void **state)
{
	struct fixture *f = *state;
	struct store_device_filter all = { NULL, NULL, NULL, NULL, NULL, -1, -1, NULL };
	char *got, *want;

	for (int i = 0; i < 50; i++)
		device_insert(f, i);
	got = walk(f, &all, 10, 51);
	want = expect(52, m_all);
	/* Device 50 was never inserted; expect() lists it: drop it from want. */
	{
		char *p = strstr(want, "SN-50,");

		assert_non_null(p);
		memmove(p, p + 6, strlen(p + 6) + 1);
	}
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_operators(void **state)
{
	struct fixture *f = *state;
	struct store_operator op, got, *items;
	struct margo_error err;
	size_t n;
	int more;

	memset(&op, 0, sizeof(op));
	strcpy(op.name, "alice");
	strcpy(op.role, "operator");
	strcpy(op.created_by, "admin");
	op.created_at = T0;
	assert_int_equal(store_operator_add(f->st, &op, "hash-a", &err), 0);
	assert_int_equal(store_operator_add(f->st, &op, "hash-a2", &err), MARGO_EEXIST);
	strcpy(op.name, "bob");
	strcpy(op.role, "viewer");
	assert_int_equal(store_operator_add(f->st, &op, "hash-b", &err), 0);
	assert_int_equal(store_operator_by_token(f->st, "hash-a", &got, &err), 0);
	assert_string_equal(got.name, "alice");
	assert_string_equal(got.role, "operator");
	assert_int_equal(got.revoked_at, -1);
	assert_int_equal(store_operator_get(f->st, "bob", &got, &err), 0);
	assert_string_equal(got.role, "viewer");
	assert_int_equal(store_operator_by_token(f->st, "hash-x", &got, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_operator_revoke(f->st, "alice", T0 + 5, &err), 0);
	assert_int_equal(store_operator_revoke(f->st, "alice", T0 + 9, &err), 0);
	assert_int_equal(store_operator_revoke(f->st, "carol", T0 + 9, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_operator_by_token(f->st, "hash-a", &got, &err), MARGO_ENOTFOUND);
	/* A revoked name is not reused. */
	strcpy(op.name, "alice");
	assert_int_equal(store_operator_add(f->st, &op, "hash-a3", &err), MARGO_EEXIST);
	assert_int_equal(store_operator_page(f->st, NULL, 1, &items, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_string_equal(items[0].name, "alice");
	assert_int_equal(items[0].revoked_at, T0 + 5);
	free(items);
	assert_int_equal(store_operator_page(f->st, "alice", 1, &items, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(items[0].name, "bob");
	free(items);
}

static void audit(store *st, int64_t at, const char *op, const char *device, int status)
{
	struct store_audit e;
	struct margo_error err;

	memset(&e, 0, sizeof(e));
	e.at = at;
	snprintf(e.operator_name, sizeof(e.operator_name), "%s", op);
	strcpy(e.method, "POST");
	strcpy(e.route, "/admin/v1/devices/{id}/approve");
	snprintf(e.path, sizeof(e.path), "/admin/v1/devices/%s/approve", device);
	snprintf(e.device_id, sizeof(e.device_id), "%s", device);
	strcpy(e.client_addr, "127.0.0.1");
	e.status = status;
	assert_int_equal(store_audit_add(st, &e, &err), 0);
}

static void test_audit(void **state)
{
	struct fixture *f = *state;
	struct store_audit_filter all = { NULL, NULL, -1, -1 }, flt;
	struct store_audit *items;
	struct margo_error err;
	size_t n;
	int more;
	int64_t after = -1, seen = 0;

	for (int i = 0; i < 30; i++)
		audit(f->st, T0 + i, i % 3 ? "alice" : "bob", i % 2 ? "dev-odd" : "dev-even",
		      i % 5 ? 200 : 409);
	/* Newest first, in pages of 4, each seq once. */
	do {
		assert_int_equal(store_audit_page(f->st, &all, after, 4, &items, &n, &more, &err),
				 0);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(items[i].at, T0 + 29 - seen);
			seen++;
		}
		if (n > 0)
			after = items[n - 1].seq;
		free(items);
	} while (more);
	assert_int_equal(seen, 30);
	flt = all;
	flt.operator_name = "bob";
	flt.device_id = "dev-even";
	flt.since = T0 + 6;
	flt.until = T0 + 24;
	assert_int_equal(store_audit_page(f->st, &flt, -1, 100, &items, &n, &more, &err), 0);
	/* bob: i % 3 == 0; dev-even: i even; 6 <= i < 24: 6, 12, 18. */
	assert_int_equal(n, 3);
	assert_int_equal(items[0].at, T0 + 18);
	assert_int_equal(items[2].at, T0 + 6);
	assert_string_equal(items[0].route, "/admin/v1/devices/{id}/approve");
	assert_int_equal(items[0].status, 200);
	free(items);
}

static void test_counts_and_ping(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	int64_t counts[4];

	for (int i = 0; i < 10; i++)
		device_insert(f, i);
	assert_int_equal(store_device_count_by_state(f->st, counts, &err), 0);
	assert_int_equal(counts[0], 3);
	assert_int_equal(counts[1], 3);
	assert_int_equal(counts[2], 2);
	assert_int_equal(counts[3], 2);
	assert_int_equal(store_ping(f->st, &err), 0);
}

/* The console summary's failing deployments (latest report Failed, reported-only ones too):
 * d1 of every i % 7 == 0, d2 of i % 14 == 0, r1 of i % 11 == 0 (not % 7); never d3. */
static void test_summary_failing(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct margo_error err;
	int64_t want = 0;

	for (int i = 0; i < 80; i++) {
		device_insert(f, i);
		want += (i % 7 == 0) + (i % 14 == 0) + (i % 11 == 0 && i % 7 != 0);
	}
	assert_int_equal(store_summary_get(f->st, T0, &sum, &err), 0);
	assert_int_equal(sum.failing_total, want);
	assert_true(sum.nfailing > 0 && sum.nfailing <= STORE_SUMMARY_FAILING_MAX);
	/* Newest report first: device 77's d1 (78's d3 went on to Installed). */
	assert_string_equal(sum.failing[0].deployment_id, "d1");
	assert_non_null(strstr(sum.failing[0].device_id, "-000000000077"));
	assert_int_equal(sum.by_state[1], 20);         /* active: i % 4 == 1 */
	assert_int_equal(sum.seen_5m, 80 - 80 / 5);     /* seen at T0 + 500 unless i % 5 == 0 */
	assert_int_equal(store_summary_get(f->st, T0 + 900, &sum, &err), 0);
	assert_int_equal(sum.seen_5m, 0);
	/* A later report that is not Failed takes the deployment off the list. */
	store_fixture_sql(f, "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
	    " received_at) SELECT device_id, deployment_id, 'Installed', '{}', 9"
	    " FROM deployment_status WHERE deployment_id = 'r1'");
	assert_int_equal(store_summary_get(f->st, T0, &sum, &err), 0);
	assert_int_equal(sum.failing_total, want - 6);  /* r1: 11, 22, 33, 44, 55, 66 */
}

/* A device's deployments in (created_at, deployment_id) order walk the same whatever the
 * page size, with the longest id in the cursor. */
static void test_deployment_pages(void **state)
{
	struct fixture *f = *state;
	const char *dev = "00000001-0000-4000-8000-000000000001";
	const size_t limits[] = { 1, 2, 3, 100 };
	char text[1024], want[4096] = "", got[4096], id[STORE_ID_MAX];
	struct store_desired *items;
	struct store_cursor after;
	struct margo_error err;
	size_t n;
	int more;

	device_insert(f, 1);
	store_fixture_sql(f, "UPDATE devices SET id = '00000001-0000-4000-8000-000000000001'");
	/* Created two a second, ids against that order: the walk is by time, then id. */
	for (int k = 0; k < 9; k++) {
		if (k == 8)
			snprintf(id, sizeof(id), "z%0127d", 0);
		else
			snprintf(id, sizeof(id), "dep-%d", 9 - k);
		snprintf(text, sizeof(text),
			 "INSERT INTO deployments (device_id, deployment_id, name, application_id,"
			 " created_at, updated_at) VALUES ('%s', '%s', 'n', 'a', %d, 0)", dev, id,
			 T0 + k / 2);
		store_fixture_sql(f, text);
	}
	strcpy(want, "dep-8,dep-9,dep-6,dep-7,dep-4,dep-5,dep-2,dep-3,");
	snprintf(want + strlen(want), sizeof(want) - strlen(want), "z%0127d,", 0);
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		memset(&after, 0, sizeof(after));
		got[0] = '\0';
		do {
			assert_int_equal(store_deployment_desired_page(f->st, dev, &after, limits[l],
								       &items, &n, &more, &err), 0);
			assert_true(n <= limits[l] && (!more || n == limits[l]));
			for (size_t i = 0; i < n; i++)
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s,",
					 items[i].deployment_id);
			if (n > 0) {
				after.set = 1;
				after.at = items[n - 1].created_at;
				snprintf(after.key, sizeof(after.key), "%s", items[n - 1].deployment_id);
			}
			store_desired_free(items, n);
		} while (more);
		if (strcmp(got, want) != 0)
			fail_msg("limit %zu: got %s, want %s", limits[l], got, want);
	}
	assert_int_equal(store_deployment_desired_page(f->st, dev, &after, 0, &items, &n, &more,
						       &err), MARGO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_device_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_pages_concurrent_insert, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_operators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_failing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployment_pages, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
