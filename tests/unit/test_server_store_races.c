/* Onboarding and the races between connections, against a real store (SQLite in a temporary
 * directory, or PostgreSQL under WFMD_TEST_PG: store_fixture.h). Each racer is a thread with
 * its own connection, as replicas on PostgreSQL would be: approve against reject of the same
 * devices, an enrollment token's uses spent by racing onboardings, compare-and-set commits of
 * one device's desired state, and free leases taken; for each, exactly one winner and no
 * lost update. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"
#include "store_desired.h"
#include "store_fixture.h"
#include "store_page.h"
#include "store_rollout.h"

#define T0 1800000000

static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store_races.XXXXXX");
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* What each racer starts with: the store, and the barrier that lets both go at once. */
struct racer {
	store *st;
	pthread_barrier_t *start;
};

/* fn(a) and fn(b) on two threads (two connections to the store, as two replicas would
 * have), released together; returns when both are done. Each fn calls racer_go first. */
static void race(store *st, void *(*fn)(void *), struct racer *a, struct racer *b)
{
	pthread_barrier_t start;
	pthread_t ta, tb;

	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	*a = (struct racer){ st, &start };
	*b = (struct racer){ st, &start };
	assert_int_equal(pthread_create(&ta, NULL, fn, a), 0);
	assert_int_equal(pthread_create(&tb, NULL, fn, b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
}

static void racer_go(struct racer *r)
{
	pthread_barrier_wait(r->start);
}

#define NRACE 30

struct decider {
	struct racer r;        /* first: race() sets it */
	int approve;
	int rc[NRACE];
};

static void *decide_all(void *p)
{
	struct decider *d = p;
	struct margo_error err;
	char id[16];

	racer_go(&d->r);
	for (int i = 0; i < NRACE; i++) {
		snprintf(id, sizeof(id), "dev-%d", i);
		d->rc[i] = d->approve ? store_device_approve(d->r.st, id, T0, &err) :
			store_device_reject(d->r.st, id, T0, &err);
	}
	return NULL;
}

/* Approve against reject of the same pending devices from two threads (two connections, as
 * two replicas would): for each device exactly one decision wins, the other is
 * MARGO_ECONFLICT, and the state is the winner's. */
static void test_approve_vs_reject(void **state)
{
	struct fixture *f = *state;
	struct decider a = { .approve = 1 }, r = { .approve = 0 };
	struct store_device dev;
	struct margo_error err;
	store *st = f->st;
	char sql[256];

	assert_int_equal(store_ping(st, &err), 0);
	for (int i = 0; i < NRACE; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO devices (id, state, certificate_pem,"
			 " certificate_fingerprint, keyid, created_at) VALUES ('dev-%d', 'pending',"
			 " 'pem', 'fp%d', 'k', %d)", i, i, T0);
		store_fixture_sql(f, sql);
	}
	race(st, decide_all, &a.r, &r.r);
	for (int i = 0; i < NRACE; i++) {
		snprintf(sql, sizeof(sql), "dev-%d", i);
		assert_int_equal(store_device_get(st, sql, T0, &dev, &err), 0);
		if (a.rc[i] == 0) {
			assert_int_equal(r.rc[i], MARGO_ECONFLICT);
			assert_string_equal(dev.state, "active");
		} else {
			assert_int_equal(a.rc[i], MARGO_ECONFLICT);
			assert_int_equal(r.rc[i], 0);
			assert_string_equal(dev.state, "rejected");
		}
		store_device_clear(&dev);
	}
	assert_int_equal(store_device_approve(st, "nope", T0, &err), MARGO_ENOTFOUND);
}

/* An onboarding request for certificate n (fingerprint fp<n>, new ids dev-<n>, req-<n>). */
struct onboard_req {
	char fp[32], dev[32], req[32], git[32], sec[32];
	struct store_onboard_in in;
};

static void onboard_req_init(struct onboard_req *r, int n, const char *token_hash, int64_t now)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->fp, sizeof(r->fp), "fp%d", n);
	snprintf(r->dev, sizeof(r->dev), "dev-%d", n);
	snprintf(r->req, sizeof(r->req), "req-%d", n);
	snprintf(r->git, sizeof(r->git), "git%d", n);
	snprintf(r->sec, sizeof(r->sec), "sec%d", n);
	r->in.fingerprint = r->fp;
	r->in.keyid = "k";
	r->in.certificate_pem = "pem";
	r->in.model_number = "m";
	r->in.serial_number = "s";
	r->in.enrollment_token_hash = token_hash;
	r->in.allow_approval_requests = 1;
	r->in.pending_max = 100;
	r->in.pending_ttl = 600;
	r->in.now = now;
	r->in.new_device_id = r->dev;
	r->in.new_request_id = r->req;
	r->in.secret_hash = r->sec;
	r->in.git_token_hash = r->git;
	r->in.git_token_expires_at = now + 3600;
	r->in.poll_token_hash = "poll";
}

/* Onboarding as SQLite decides it: an auto-approving token, the lost-response repeat, the
 * credentials' first use and access checks, git tokens, an approval request polled to
 * approval, a bad poll token, a used-up token, a pre-registered certificate, a rejected one,
 * and an overdue request expired (its never-approved device dropped) by a listing. */
static void test_onboard(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	struct onboard_req r;
	struct store_onboard_out out;
	struct store_device *devs;
	enum store_poll_result pr;
	char id[MARGO_UUID_LEN];
	struct margo_error err;
	int64_t epoch;
	size_t n;

	store_fixture_token(st, "tok-auto", "hauto", 1, 1, T0);
	onboard_req_init(&r, 1, "hauto", T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.device_id, "dev-1");
	/* lost response: same device, new secret, no token use */
	r.in.secret_hash = "secret2";
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.reason, "repeat");
	assert_int_equal(store_client_authenticate(st, "dev-1", "sec1", T0, &epoch, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(st, "dev-1", "secret2", T0, &epoch, &err), 0);
	assert_int_equal(store_access_check(st, "dev-1", epoch, T0, &err), 0);
	assert_int_equal(store_access_check(st, "dev-1", epoch + 1, T0, &err), MARGO_EAUTH);
	assert_int_equal(store_git_token_check(st, "git1", T0, id, &err), 0);
	assert_string_equal(id, "dev-1");
	assert_int_equal(store_git_token_check(st, "git1", T0 + 3600, id, &err), MARGO_EAUTH);
	for (int i = 0; i < 4; i++) {
		char h[16];

		snprintf(h, sizeof(h), "g%d", i);
		assert_int_equal(store_git_token_issue(st, "dev-1", h, T0, T0 + 100 + i, &err), 0);
	}
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM git_tokens"), STORE_GIT_TOKENS_MAX);
	assert_int_equal(store_git_token_check(st, "g3", T0, id, &err), 0);
	assert_int_equal(store_git_token_check(st, "g0", T0, id, &err), MARGO_EAUTH);
	/* credentials used: a second onboarding without a token conflicts; the token is used up */
	r.in.enrollment_token_hash = NULL;
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_CONFLICT);
	onboard_req_init(&r, 2, "hauto", T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_TOKEN_INVALID);
	/* approval request, approved, polled */
	onboard_req_init(&r, 3, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	assert_string_equal(out.request_id, "req-3");
	assert_int_equal(store_poll(st, "req-3", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_PENDING);
	assert_int_equal(store_poll(st, "req-3", "bad", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_BAD_TOKEN);
	assert_int_equal(store_poll(st, "nope", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_UNKNOWN);
	assert_int_equal(store_device_approve(st, "dev-3", T0, &err), 0);
	assert_int_equal(store_poll(st, "req-3", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_APPROVED);
	assert_string_equal(id, "dev-3");
	assert_int_equal(store_client_authenticate(st, "dev-3", "s3", T0, &epoch, &err), 0);
	assert_int_equal(store_poll(st, "req-3", "poll", "s4", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_GONE);
	/* pre-registered, then rejected */
	assert_int_equal(store_certificate_add(st, "fp4", "pem", "d", T0, &err), 0);
	assert_int_equal(store_certificate_add(st, "fp4", "pem", "d", T0, &err), MARGO_EEXIST);
	onboard_req_init(&r, 4, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_int_equal(store_certificate_remove(st, "fp4", &err), 0);
	assert_int_equal(store_certificate_remove(st, "fp4", &err), MARGO_ENOTFOUND);
	onboard_req_init(&r, 5, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(store_device_reject(st, "dev-5", T0, &err), 0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_REJECTED);
	/* overdue: the pending device of request 6 goes with its request */
	onboard_req_init(&r, 6, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(store_device_list(st, "pending", T0, &devs, &n, &err), 0);
	assert_int_equal(n, 1);
	store_devices_free(devs, n);
	assert_int_equal(store_device_list(st, NULL, T0 + 601, &devs, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(devs[0].id, "dev-1");
	store_devices_free(devs, n);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM onboarding_requests"
				    " WHERE state = 'expired'"), 1);
	assert_int_equal(store_enrollment_token_revoke(st, "tok-auto", &err), 0);
	assert_int_equal(store_enrollment_token_revoke(st, "nope", &err), MARGO_ENOTFOUND);
}

#define NSPEND 20
#define TOKEN_USES 7

/* One connection's onboarding requests in a race: NSPEND of them with token_hash, for
 * certificates base + i (or, shared, 900 + i: the same ones as the other racer), each with
 * pending_max unless 0; what came back, counted. */
struct spender {
	struct racer r;        /* first: race() sets it */
	int base;
	const char *token_hash;
	int shared;
	int pending_max;
	int approved, invalid, pending, full, other;
};

static void *spend_all(void *p)
{
	struct spender *s = p;
	struct store_onboard_out out;
	struct onboard_req r;
	struct margo_error err;

	racer_go(&s->r);
	for (int i = 0; i < NSPEND; i++) {
		onboard_req_init(&r, s->shared ? 900 + i : s->base + i, s->token_hash, T0);
		if (s->pending_max > 0)
			r.in.pending_max = s->pending_max;
		if (store_onboard(s->r.st, &r.in, &out, &err) < 0) {
			s->other++;
			continue;
		}
		s->approved += out.result == STORE_ONBOARD_APPROVED;
		s->invalid += out.result == STORE_ONBOARD_TOKEN_INVALID;
		s->pending += out.result == STORE_ONBOARD_PENDING;
		s->full += out.result == STORE_ONBOARD_PENDING_FULL;
	}
	return NULL;
}

/* A token of TOKEN_USES uses spent by two connections at once (two replicas): exactly
 * TOKEN_USES devices onboard, every other request is TOKEN_INVALID, the count never
 * overshoots. */
static void test_token_race(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	struct spender a = { .base = 100, .token_hash = "hrace" },
		       b = { .base = 200, .token_hash = "hrace" };

	store_fixture_token(st, "tok-race", "hrace", TOKEN_USES, 1, T0);
	race(st, spend_all, &a.r, &b.r);
	assert_int_equal(a.approved + b.approved, TOKEN_USES);
	assert_int_equal(a.invalid + b.invalid, 2 * NSPEND - TOKEN_USES);
	assert_int_equal(store_fixture_query_long(f, "SELECT uses FROM enrollment_tokens"), TOKEN_USES);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM devices"), TOKEN_USES);
}

#define PENDING_CAP 10

/* A token that does not approve by itself files pending requests: on PostgreSQL such a
 * request is first decided without the requests lock, then again with it. Raced from two
 * connections, the pending cap still holds exactly and the refused requests spend no use.
 * Then the same NSPEND new certificates onboarded by both at once with an approving token:
 * one device each, one token use each (the second request is the lost-response repeat). */
static void test_pending_cap_race(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	struct spender a = { .base = 300, .token_hash = "hpend", .pending_max = PENDING_CAP },
		       b = { .base = 400, .token_hash = "hpend", .pending_max = PENDING_CAP };
	struct spender c = { .token_hash = "hauto", .shared = 1, .pending_max = PENDING_CAP },
		       d = { .token_hash = "hauto", .shared = 1, .pending_max = PENDING_CAP };

	store_fixture_token(st, "tok-pend", "hpend", 1000, 0, T0);
	race(st, spend_all, &a.r, &b.r);
	assert_int_equal(a.other + b.other, 0);
	assert_int_equal(a.pending + b.pending, PENDING_CAP);
	assert_int_equal(a.full + b.full, 2 * NSPEND - PENDING_CAP);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM onboarding_requests"
						  " WHERE state = 'pending'"), PENDING_CAP);
	assert_int_equal(store_fixture_query_long(f, "SELECT uses FROM enrollment_tokens"),
			 PENDING_CAP);
	store_fixture_token(st, "tok-auto", "hauto", 1000, 1, T0);
	race(st, spend_all, &c.r, &d.r);
	assert_int_equal(c.other + d.other, 0);
	assert_int_equal(c.approved + d.approved, 2 * NSPEND);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(DISTINCT"
						  " certificate_fingerprint) FROM devices WHERE"
						  " certificate_fingerprint LIKE 'fp9__'"), NSPEND);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM devices WHERE"
						  " certificate_fingerprint LIKE 'fp9__'"), NSPEND);
	assert_int_equal(store_fixture_query_long(f, "SELECT uses FROM enrollment_tokens"
						  " WHERE id = 'tok-auto'"), NSPEND);
}

#define NCAS 20

struct committer {
	struct racer r;        /* first: race() sets it */
	int wins;
	const char *tag;
};

/* Moves dev-1's reference from what it reads to a revision of its own, NCAS times. */
static void *commit_all(void *p)
{
	struct committer *m = p;
	struct store_desired_change ch = { .device_id = "dev-1", .now = T0 };
	char old[STORE_REVISION_LEN], rev[STORE_REVISION_LEN];
	struct margo_error err;

	racer_go(&m->r);
	for (int i = 0; i < NCAS; i++) {
		if (store_repo_revision_get(m->r.st, "dev-1", old, &err) < 0)
			continue;
		snprintf(rev, sizeof(rev), "%s%038d", m->tag, i);
		ch.old_rev = old;
		ch.new_rev = rev;
		m->wins += store_desired_commit(m->r.st, &ch, &err) == 0;
	}
	return NULL;
}

/* The desired state: creation once, objects stored once and read back (an empty one too),
 * a deployment row put and removed, and the compare-and-set reference moved by two
 * connections at once: each success moved it from the revision its writer read, so the
 * number of successes is the number of moves. */
static void test_desired_race(void **state)
{
	struct fixture *f = *state;
	store *st = f->st;
	struct store_object objs[2] = {
		{ .oid = { 1, 2, 3 }, .type = STORE_OBJECT_BLOB, .data = "hello\0x", .len = 7 },
		{ .oid = { 9 }, .type = STORE_OBJECT_TREE, .data = "", .len = 0 },
	};
	struct store_desired_change ch = { .device_id = "dev-1", .new_rev = "aa", .objects = objs,
					   .nobjects = 2, .op = STORE_DESIRED_PUT,
					   .deployment_id = "d1", .name = "n", .application_id = "a",
					   .now = T0 };
	struct committer a = { .tag = "a" }, b = { .tag = "b" };
	struct store_object_stats stats;
	char rev[STORE_REVISION_LEN];
	struct margo_error err;
	unsigned char *data;
	size_t len;
	int type;

	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ENOTFOUND);
	store_fixture_sql(f, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-1', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ECONFLICT);
	assert_int_equal(store_object_get(st, objs[0].oid, &type, &data, &len, &err), 0);
	assert_int_equal(type, STORE_OBJECT_BLOB);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "hello\0x", 7);
	free(data);
	assert_int_equal(store_object_get(st, objs[1].oid, &type, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(store_object_get(st, (unsigned char[STORE_OID_LEN]){ 7 }, &type, &data,
					  &len, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_object_stats(st, &stats, &err), 0);
	assert_int_equal(stats.objects, 2);
	assert_int_equal(stats.bytes, 7);
	assert_int_equal(stats.refs, 1);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM deployments"), 1);
	ch.old_rev = "aa";
	ch.op = STORE_DESIRED_REMOVE;
	ch.deployment_id = "d2";
	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ENOTFOUND);
	ch.deployment_id = "d1";
	ch.new_rev = "bb";
	assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM deployments"), 0);
	race(st, commit_all, &a.r, &b.r);
	assert_true(a.wins > 0 && b.wins > 0);
	assert_true(a.wins + b.wins <= 2 * NCAS);
	assert_int_equal(store_repo_revision_get(st, "dev-1", rev, &err), 0);
	assert_int_equal(strlen(rev), 39);
	assert_int_equal(store_repo_revision_get(st, "dev-2", rev, &err), MARGO_ENOTFOUND);
}

#define NLEASE 20

struct leaser {
	struct racer r;        /* first: race() sets it */
	const char *holder;
	int held[NLEASE];
};

/* Takes lease "race-<i>" (all free) once each. */
static void *lease_all(void *p)
{
	struct leaser *l = p;
	struct margo_error err;
	char name[32];

	racer_go(&l->r);
	for (int i = 0; i < NLEASE; i++) {
		snprintf(name, sizeof(name), "race-%d", i);
		if (store_lease_take(l->r.st, name, l->holder, T0, 10, &l->held[i], &err) < 0)
			l->held[i] = -1;
	}
	return NULL;
}

/* Each of NLEASE free leases taken by exactly one of two racing replicas. */
static void test_lease_race(void **state)
{
	struct fixture *f = *state;
	struct leaser a = { .holder = "A" }, b = { .holder = "B" };

	race(f->st, lease_all, &a.r, &b.r);
	for (int i = 0; i < NLEASE; i++)
		assert_int_equal(a.held[i] + b.held[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_approve_vs_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_onboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_cap_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_desired_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_race, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
