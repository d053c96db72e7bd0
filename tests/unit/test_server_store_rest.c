/* The rest of the store API against a real store (SQLite in a temporary directory, or
 * PostgreSQL under WFMD_TEST_PG: store_fixture.h): device reports and the desired deployments
 * with their latest status; rollouts, their devices and the leases; labels, the fleet scan, CA MACs, console sessions, a
 * deployment's history and the token and certificate pages. Devices are put in with SQL both
 * backends accept (store_fixture_sql, set-up only); every read goes through the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "label.h"
#include "store.h"
#include "store_camac.h"
#include "store_console.h"
#include "store_desired.h"
#include "store_fixture.h"
#include "store_fleet.h"
#include "store_page.h"
#include "store_rollout.h"

#define T0 1800000000
#define NFLEET 1100

static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store_rest.XXXXXX");
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* Devices dev-0001 .. dev-1100 created at 1 .. 1100, active for even numbers, else pending;
 * each labelled site=x, every third also tier=y; capabilities for every fifth. */
static void fleet_insert(struct fixture *f)
{
	size_t cap = NFLEET * 96 + 256, len;
	char *sql = malloc(cap);

	assert_non_null(sql);
	len = (size_t)snprintf(sql, cap, "INSERT INTO devices (id, state, certificate_pem,"
			       " certificate_fingerprint, keyid, created_at) VALUES");
	for (int i = 1; i <= NFLEET; i++)
		len += (size_t)snprintf(sql + len, cap - len, "%s ('dev-%04d', '%s', 'pem', 'fp%d',"
					" 'k', %d)", i > 1 ? "," : "", i,
					i % 2 ? "pending" : "active", i, i);
	assert_true(len < cap);
	store_fixture_sql(f, sql);
	free(sql);
	store_fixture_sql(f, "INSERT INTO device_labels (device_id, key, value)"
			  " SELECT id, 'site', 'x' FROM devices;"
			  "INSERT INTO device_labels (device_id, key, value)"
			  " SELECT id, 'tier', 'y' FROM devices WHERE created_at % 3 = 0;"
			  "INSERT INTO capabilities (device_id, document, updated_at)"
			  " SELECT id, '{}', 1 FROM devices WHERE created_at % 5 = 0");
}

/* Reports: capabilities replaced, status history trimmed to STORE_STATUS_HISTORY with the
 * latest listed, and the desired deployments listed and paged with their latest status. */
static void test_reports(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	const char *deps[] = { "d1", "d2", "d3" };
	struct store_desired_change ch = { .device_id = "dev-1", .op = STORE_DESIRED_PUT,
					   .name = "n", .application_id = "a" };
	struct store_deployment *ds;
	struct store_desired *dd;
	struct store_cursor cur;
	struct margo_error err;
	char revs[3][8], doc[32], name[STORE_TEXT_MAX];
	int64_t seq, at;
	size_t n, len;
	char *caps;
	int more;

	store_fixture_sql(f, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-1', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_capabilities_get(st, "dev-1", &caps, &len, &at, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(store_capabilities_put(st, "dev-1", "{\"a\":1}xx", 7, T0, &err), 0);
	assert_int_equal(store_capabilities_put(st, "dev-1", "{\"b\":2}", 7, T0 + 1, &err), 0);
	assert_int_equal(store_capabilities_get(st, "dev-1", &caps, &len, &at, &err), 0);
	assert_string_equal(caps, "{\"b\":2}");
	assert_int_equal(len, 7);
	assert_int_equal(at, T0 + 1);
	free(caps);
	for (int i = 0; i < 3; i++) {
		snprintf(revs[i], sizeof(revs[i]), "r%d", i);
		ch.old_rev = i == 0 ? NULL : revs[i - 1];
		ch.new_rev = revs[i];
		ch.deployment_id = deps[i];
		ch.now = T0 + i;
		assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	}
	assert_int_equal(store_deployment_status_seq(st, "dev-1", "d1", &seq, &err), 0);
	assert_int_equal(seq, 0);
	for (int i = 0; i < STORE_STATUS_HISTORY + 5; i++) {
		snprintf(doc, sizeof(doc), "{\"n\":%d}", i);
		assert_int_equal(store_deployment_status_add(st, "dev-1", "d1", i % 2 ? "Failed" :
							     "Installed", doc, strlen(doc), T0 + i,
							     &err), 0);
	}
	assert_int_equal(store_deployment_status_add(st, "dev-1", "d3", "Installing", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM deployment_status"
				    " WHERE deployment_id = 'd1'"), STORE_STATUS_HISTORY);
	assert_int_equal(store_deployment_status_seq(st, "dev-1", "d1", &seq, &err), 0);
	assert_int_equal(seq, STORE_STATUS_HISTORY + 5);
	assert_int_equal(store_deployment_list(st, "dev-1", &ds, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ds[0].deployment_id, "d1");
	assert_string_equal(ds[0].state, "Installed");
	assert_string_equal(ds[0].document, "{\"n\":104}");
	assert_string_equal(ds[1].state, "Installing");
	store_deployments_free(ds, n);
	assert_int_equal(store_deployment_desired_get(st, "dev-1", "d2", name, &err), 0);
	assert_string_equal(name, "n");
	assert_int_equal(store_deployment_desired_get(st, "dev-1", "d9", name, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(store_deployment_desired_list(st, "dev-1", &dd, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(dd[0].state, "Installed");
	assert_string_equal(dd[0].status_document, "{\"n\":104}");
	assert_string_equal(dd[1].state, "");
	assert_null(dd[1].status_document);
	assert_int_equal(dd[1].received_at, -1);
	store_desired_free(dd, n);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_deployment_desired_page(st, "dev-1", &cur, 2, &dd, &n, &more,
						       &err), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	cur.set = 1;
	cur.at = dd[1].created_at;
	snprintf(cur.key, sizeof(cur.key), "%s", dd[1].deployment_id);
	store_desired_free(dd, n);
	assert_int_equal(store_deployment_desired_page(st, "dev-1", &cur, 2, &dd, &n, &more,
						       &err), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(dd[0].deployment_id, "d3");
	store_desired_free(dd, n);
}

/* Rollouts: a second rollout of one deployment supersedes the first, the state's
 * compare-and-set, the devices by wave with their previous version and the status reported
 * after deploying; leases: renewed by their holder, refused to another until they expire
 * (their race: test_server_store_races.c). */
static void test_rollouts_and_leases(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	char ids[3][MARGO_UUID_LEN] = { "dev-a", "dev-b", "NULL" };
	const long waves[3] = { 0, 1, 1 };
	struct store_rollout r = { .id = "ro-1", .deployment_id = "dep", .selector = "a=b",
				   .yaml = "kind: x", .yaml_len = 7, .canary = 1, .batch = 2,
				   .success_threshold = 90, .wave_timeout = 60, .nwaves = 2,
				   .created_by = "op", .wave_started_at = -1 };
	struct store_rollout_device *rd;
	struct store_rollout got, *list;
	struct margo_error err;
	size_t n;
	int held;

	assert_int_equal(store_rollout_create(st, &r, ids, waves, 3, T0, &err), 0);
	snprintf(r.id, sizeof(r.id), "ro-2");
	assert_int_equal(store_rollout_create(st, &r, ids, waves, 3, T0 + 1, &err), 0);
	assert_int_equal(store_rollout_get(st, "ro-1", &got, &err), 0);
	assert_string_equal(got.state, "superseded");
	assert_string_equal(got.reason, "superseded by rollout ro-2");
	store_rollout_clear(&got);
	assert_int_equal(store_rollout_get(st, "ro-2", &got, &err), 0);
	assert_string_equal(got.yaml, "kind: x");
	assert_int_equal(got.ndevices, 3);
	assert_int_equal(got.wave_started_at, -1);
	store_rollout_clear(&got);
	assert_int_equal(store_rollout_get(st, "ro-9", &got, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_rollout_list(st, "running", &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "ro-2");
	store_rollouts_free(list, n);
	assert_int_equal(store_rollout_list(st, NULL, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	store_rollouts_free(list, n);
	snprintf(r.state, sizeof(r.state), "paused");
	r.current_wave = 1;
	r.wave_started_at = T0 + 5;
	assert_int_equal(store_rollout_update(st, "ro-2", "running", &r, T0 + 5, &err), 0);
	assert_int_equal(store_rollout_update(st, "ro-2", "running", &r, T0 + 5, &err),
			 MARGO_ECONFLICT);
	assert_int_equal(store_rollout_update(st, "ro-9", "running", &r, T0 + 5, &err),
			 MARGO_ENOTFOUND);
	store_fixture_sql(f, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-b', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_deployment_status_add(st, "dev-b", "dep", "Installed", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(store_rollout_device_set(st, "ro-2", "dev-b", "deploying", "old", 3, 1,
						  &err), 0);
	assert_int_equal(store_rollout_devices(st, "ro-2", "dep", 1, 1, &rd, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rd[0].device_id, "NULL");
	assert_string_equal(rd[1].device_id, "dev-b");
	assert_string_equal(rd[1].state, "deploying");
	assert_string_equal(rd[1].previous_yaml, "old");
	assert_string_equal(rd[1].status, "");
	store_rollout_devices_free(rd, n);
	assert_int_equal(store_deployment_status_add(st, "dev-b", "dep", "Failed", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(store_rollout_device_set(st, "ro-2", "NULL", "skipped", NULL, 0, 0,
						  &err), 0);
	assert_int_equal(store_rollout_devices(st, "ro-2", "dep", -1, 0, &rd, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rd[2].device_id, "dev-b");
	assert_string_equal(rd[2].status, "Failed");
	assert_null(rd[2].previous_yaml);
	assert_int_equal(rd[2].has_previous, 1);
	assert_string_equal(rd[1].state, "skipped");
	store_rollout_devices_free(rd, n);
	/* leases */
	assert_int_equal(store_lease_take(st, "engine", "A", T0, 10, &held, &err), 0);
	assert_true(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 5, 10, &held, &err), 0);
	assert_false(held);
	assert_int_equal(store_lease_take(st, "engine", "A", T0 + 5, 10, &held, &err), 0);
	assert_true(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 14, 10, &held, &err), 0);
	assert_false(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 15, 10, &held, &err), 0);
	assert_true(held);
}

/* Counts the devices a fleet scan shows and the labels they carry; stops at stop_after. */
struct scan_count {
	int devices, labels, with_caps, stop_after;
	char last[MARGO_UUID_LEN];
};

static int scan_count_fn(void *ctx, const struct store_fleet_device *d)
{
	struct scan_count *sc = ctx;

	sc->devices++;
	sc->labels += (int)d->nlabels;
	sc->with_caps += d->capabilities != NULL;
	for (size_t i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, "site") != 0 && strcmp(d->labels[i].key, "tier") != 0)
			return -99;
	snprintf(sc->last, sizeof(sc->last), "%s", d->id);
	return sc->devices == sc->stop_after ? 7 : 0;
}

/* Labels (the per-device limit, nothing changed when over it), the fleet scan over more than
 * one batch with each device's labels, CA MACs, console sessions, a deployment's history, and
 * the token and certificate pages. */
static void test_labels_fleet_and_rest(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	struct store_label set[LABEL_PER_DEVICE_MAX + 1], *labels;
	struct store_session sess = { "alice", "operator", 0, T0, T0 + 60 }, got;
	struct store_ca_mac mac = { "tok-1", "lookup-1", "cafp", "mac" }, mac_got;
	struct scan_count sc = { 0 };
	struct store_enrollment_token *toks;
	struct store_certificate *certs;
	struct store_deployment *hist;
	struct store_cursor cur;
	struct margo_error err;
	const char *rm[] = { "tier" };
	char doc[32];
	size_t n;
	int more;

	fleet_insert(f);
	memset(set, 0, sizeof(set));
	for (int i = 0; i <= LABEL_PER_DEVICE_MAX; i++)
		snprintf(set[i].key, sizeof(set[i].key), "k%d", i);
	assert_int_equal(store_labels_update(st, "dev-0001", set, LABEL_PER_DEVICE_MAX, NULL, 0,
					     &err), MARGO_ELIMIT);
	assert_int_equal(store_labels_update(st, "dev-0001", set, 2, rm, 1, &err), 0);
	assert_int_equal(store_labels_update(st, "nope", set, 2, NULL, 0, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_labels_get(st, "dev-0003", &labels, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(labels[0].key, "site");
	assert_string_equal(labels[1].value, "y");
	free(labels);
	assert_int_equal(store_labels_get(st, "dev-0001", &labels, &n, &err), 0);
	assert_int_equal(n, 3);
	free(labels);
	assert_int_equal(store_labels_get(st, "nope", &labels, &n, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_labels_update(st, "dev-0001", NULL, 0, (const char *[]){ "k0", "k1" },
					     2, &err), 0);
	assert_int_equal(store_fleet_scan(st, NULL, NULL, scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, NFLEET);
	assert_int_equal(sc.labels, NFLEET + NFLEET / 3);
	assert_int_equal(sc.with_caps, NFLEET / 5);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_fleet_scan(st, "active", "dev-0100", scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, 500);
	memset(&sc, 0, sizeof(sc));
	sc.stop_after = 600;
	assert_int_equal(store_fleet_scan(st, NULL, NULL, scan_count_fn, &sc, &err), 7);
	assert_string_equal(sc.last, "dev-0600");
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_fleet_get(st, "dev-0003", scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, 1);
	assert_int_equal(sc.labels, 2);
	assert_int_equal(store_fleet_get(st, "nope", scan_count_fn, &sc, &err), MARGO_ENOTFOUND);
	/* CA MACs */
	store_fixture_token(st, "tok-1", "h1", 1, 0, T0);
	assert_int_equal(store_ca_mac_add(st, &mac, &err), 0);
	assert_int_equal(store_ca_mac_add(st, &mac, &err), MARGO_EEXIST);
	assert_int_equal(store_ca_mac_get(st, "lookup-1", T0, &mac_got, &err), 0);
	assert_string_equal(mac_got.ca_mac, "mac");
	assert_int_equal(store_ca_mac_get(st, "lookup-1", T0 + 86400, &mac_got, &err),
			 MARGO_ENOTFOUND);
	/* sessions */
	assert_int_equal(store_session_create(st, "s1", &sess, T0, &err), 0);
	assert_int_equal(store_session_create(st, "s2", &sess, T0, &err), 0);
	assert_int_equal(store_session_get(st, "s1", T0, &got, &err), 0);
	assert_string_equal(got.operator_name, "alice");
	assert_int_equal(got.expires_at, T0 + 60);
	assert_int_equal(store_session_get(st, "s1", T0 + 60, &got, &err), MARGO_EAUTH);
	assert_int_equal(store_session_delete(st, "s1", &err), 0);
	assert_int_equal(store_session_get(st, "s1", T0, &got, &err), MARGO_EAUTH);
	assert_int_equal(store_session_delete_operator(st, "alice", &n, &err), 0);
	assert_int_equal(n, 1);
	/* history */
	for (int i = 0; i < 5; i++) {
		snprintf(doc, sizeof(doc), "{\"i\":%d}", i);
		assert_int_equal(store_deployment_status_add(st, "dev-0002", "d", "Installing", doc,
							     strlen(doc), T0 + i, &err), 0);
	}
	assert_int_equal(store_deployment_history(st, "dev-0002", "d", 3, &hist, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(hist[0].document, "{\"i\":4}");
	assert_int_equal(hist[2].received_at, T0 + 2);
	store_deployments_free(hist, n);
	/* token and certificate pages */
	store_fixture_token(st, "tok-2", "h2", 1, 0, T0);
	store_fixture_token(st, "tok-3", "h3", 1, 1, T0);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_enrollment_token_page(st, &cur, 2, &toks, &n, &more, &err), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	cur.set = 1;
	cur.at = toks[1].created_at;
	snprintf(cur.key, sizeof(cur.key), "%s", toks[1].id);
	free(toks);
	assert_int_equal(store_enrollment_token_page(st, &cur, 2, &toks, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(toks[0].id, "tok-3");
	assert_int_equal(toks[0].auto_approve, 1);
	assert_int_equal(toks[0].max_uses, 1);
	free(toks);
	assert_int_equal(store_certificate_add(st, "fa", "pem", NULL, T0, &err), 0);
	assert_int_equal(store_certificate_add(st, "fb", "pem", "b", T0, &err), 0);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_certificate_page(st, &cur, 1, &certs, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_string_equal(certs[0].fingerprint, "fa");
	free(certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollouts_and_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_fleet_and_rest, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
