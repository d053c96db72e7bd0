/* store.h against a real store: SQLite in a temporary directory, or PostgreSQL under
 * WFMD_TEST_PG (store_fixture.h; ctest's pg/ entries). */
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
#include "store_fixture.h"
#include "store_page.h"
#include "store_desired.h"
#include "store_rollout.h"

#define T0 1800000000

static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store.XXXXXX");
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* An onboarding input for certificate number n. */
static void onboard_in(struct store_onboard_in *in, int n, const char *token_hash, int64_t now,
		       char bufs[6][80])
{
	memset(in, 0, sizeof(*in));
	snprintf(bufs[0], 80, "sha256:%064d", n);
	snprintf(bufs[1], 80, "00000000-0000-4000-8000-%012d", n);
	snprintf(bufs[2], 80, "00000000-0000-4000-9000-%012d", (int)(now % 1000000) + n);
	snprintf(bufs[3], 80, "secret-%d-%lld", n, (long long)now);
	snprintf(bufs[4], 80, "poll-%d-%lld", n, (long long)now);
	in->fingerprint = bufs[0];
	in->keyid = "keyid";
	in->certificate_pem = "PEM";
	in->vendor = "acme";
	in->model_number = "m1";
	in->serial_number = "s1";
	in->enrollment_token_hash = token_hash;
	in->allow_approval_requests = 1;
	in->pending_max = 1000;
	in->pending_ttl = 100;
	in->now = now;
	in->new_device_id = bufs[1];
	in->new_request_id = bufs[2];
	in->secret_hash = bufs[3];
	in->poll_token_hash = bufs[4];
}

static void make_token(store *st, const char *id, const char *hash, long max_uses, int auto_approve,
		       int64_t expires_at)
{
	struct store_enrollment_token t;
	struct margo_error err;

	memset(&t, 0, sizeof(t));
	strcpy(t.id, id);
	strcpy(t.description, "test");
	t.created_at = T0;
	t.expires_at = expires_at;
	t.max_uses = max_uses;
	t.auto_approve = auto_approve;
	assert_int_equal(store_enrollment_token_create(st, &t, hash, &err), 0);
}

static void test_token_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct margo_error err;
	struct store_enrollment_token *toks = NULL;
	struct store_cursor start = { 0, 0, "" };
	int more;
	char b[6][80], first_secret[80];
	int64_t epoch = 0, epoch2 = 0;
	size_t n;

	make_token(f->st, "10000000-0000-4000-8000-000000000001", "et1", 1, 1, T0 + 3600);
	onboard_in(&in, 1, "et1", T0, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.device_id, in.new_device_id);
	strcpy(first_secret, in.secret_hash);

	/* The token is used up: another certificate is refused. */
	onboard_in(&in, 2, "et1", T0 + 1, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_TOKEN_INVALID);
	assert_int_equal(store_enrollment_token_page(f->st, &start, 100, &toks, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(toks[0].uses, 1);
	free(toks);

	/* Lost response: the same certificate again gets the same id and a new secret; the old
	 * secret no longer works. No token use is spent (the token is used up anyway). */
	onboard_in(&in, 1, "et1", T0 + 2, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.device_id, "00000000-0000-4000-8000-000000000001");
	assert_int_equal(store_client_authenticate(f->st, out.device_id, first_secret, T0 + 3,
						   &epoch, &err), MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(f->st, out.device_id, in.secret_hash, T0 + 3,
						   &epoch, &err), 0);
	assert_int_equal(store_access_check(f->st, out.device_id, epoch, T0 + 4, &err), 0);
	assert_int_equal(store_access_check(f->st, out.device_id, epoch - 1, T0 + 4, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_access_check(f->st, "00000000-0000-4000-8000-000000000999", epoch,
					    T0 + 4, &err), MARGO_EAUTH);
	/* Asking again is a read: the same epoch, any number of times. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(store_client_authenticate(f->st, out.device_id, in.secret_hash,
							   T0 + 3, &epoch2, &err), 0);
		assert_int_equal(epoch2, epoch);
	}

	/* After first use, the same certificate without a fresh authorisation: conflict. */
	onboard_in(&in, 1, NULL, T0 + 5, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_CONFLICT);

	/* With a fresh token: same id, new credentials, the old access token dies. */
	make_token(f->st, "10000000-0000-4000-8000-000000000002", "et2", 5, 1, T0 + 3600);
	onboard_in(&in, 1, "et2", T0 + 6, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.device_id, "00000000-0000-4000-8000-000000000001");
	assert_int_equal(store_access_check(f->st, out.device_id, epoch, T0 + 7, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(f->st, out.device_id, in.secret_hash, T0 + 7,
						   &epoch2, &err), 0);
	assert_true(epoch2 != epoch);
	assert_int_equal(store_access_check(f->st, out.device_id, epoch2, T0 + 7, &err), 0);

	/* Revocation cascades: secret and tokens stop working together. */
	assert_int_equal(store_device_revoke(f->st, out.device_id, T0 + 8, &err), 0);
	assert_int_equal(store_access_check(f->st, out.device_id, epoch2, T0 + 9, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(f->st, out.device_id, in.secret_hash, T0 + 9,
						   &epoch, &err), MARGO_EAUTH);

	/* Expired and revoked tokens are refused. */
	make_token(f->st, "10000000-0000-4000-8000-000000000003", "et3", 5, 1, T0 + 10);
	onboard_in(&in, 3, "et3", T0 + 10, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_TOKEN_INVALID);
	assert_int_equal(store_enrollment_token_revoke(f->st, "10000000-0000-4000-8000-000000000002",
						       &err), 0);
	onboard_in(&in, 4, "et2", T0 + 11, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_TOKEN_INVALID);
	assert_int_equal(store_enrollment_token_revoke(f->st, "10000000-0000-4000-8000-00000000ffff",
						       &err), MARGO_ENOTFOUND);
}

static void test_approval_queue(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct margo_error err;
	struct store_device *devs = NULL;
	enum store_poll_result pr;
	char b[6][80], dev[MARGO_UUID_LEN], req1[MARGO_UUID_LEN], req2[MARGO_UUID_LEN];
	int64_t epoch = 0;
	size_t n;

	onboard_in(&in, 1, NULL, T0, b);
	in.pending_max = 2;
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	strcpy(req1, out.request_id);

	/* Polling: wrong token, then pending. */
	assert_int_equal(store_poll(f->st, req1, "wrong", "s", NULL, 0, T0 + 1, &pr, dev, &err), 0);
	assert_int_equal(pr, STORE_POLL_BAD_TOKEN);
	assert_int_equal(store_poll(f->st, req1, in.poll_token_hash, "s", NULL, 0, T0 + 1, &pr, dev, &err),
			 0);
	assert_int_equal(pr, STORE_POLL_PENDING);
	assert_int_equal(store_poll(f->st, "20000000-0000-4000-8000-000000000000", "x", "s", NULL, 0,
				    T0 + 1, &pr, dev, &err), 0);
	assert_int_equal(pr, STORE_POLL_UNKNOWN);

	onboard_in(&in, 2, NULL, T0 + 1, b);
	in.pending_max = 2;
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	strcpy(req2, out.request_id);

	/* The bound: a third request is refused with a retry hint. */
	onboard_in(&in, 3, NULL, T0 + 2, b);
	in.pending_max = 2;
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING_FULL);
	assert_true(out.retry_after > 0 && out.retry_after <= 100);
	assert_int_equal(store_device_list(f->st, "pending", T0 + 2, &devs, &n, &err), 0);
	assert_int_equal(n, 2);
	store_devices_free(devs, n);

	/* Approve the first: the poll hands out the credentials (a new secret each time). */
	assert_int_equal(store_device_approve(f->st, "00000000-0000-4000-8000-000000000001",
					      T0 + 3, &err), 0);
	assert_int_equal(store_device_approve(f->st, "00000000-0000-4000-8000-000000000001",
					      T0 + 3, &err), MARGO_ECONFLICT);
	onboard_in(&in, 1, NULL, T0, b);
	assert_int_equal(store_poll(f->st, req1, in.poll_token_hash, "sec-a", NULL, 0, T0 + 4, &pr, dev,
				    &err), 0);
	assert_int_equal(pr, STORE_POLL_APPROVED);
	assert_string_equal(dev, "00000000-0000-4000-8000-000000000001");
	assert_int_equal(store_poll(f->st, req1, in.poll_token_hash, "sec-b", NULL, 0, T0 + 5, &pr, dev,
				    &err), 0);
	assert_int_equal(pr, STORE_POLL_APPROVED);
	assert_int_equal(store_client_authenticate(f->st, dev, "sec-a", T0 + 6, &epoch, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(f->st, dev, "sec-b", T0 + 6, &epoch, &err), 0);
	/* After first use the poll is over. */
	assert_int_equal(store_poll(f->st, req1, in.poll_token_hash, "sec-c", NULL, 0, T0 + 7, &pr, dev,
				    &err), 0);
	assert_int_equal(pr, STORE_POLL_GONE);

	/* Reject the second: poll says rejected, and onboarding again is refused. */
	assert_int_equal(store_device_reject(f->st, "00000000-0000-4000-8000-000000000002",
					     T0 + 8, &err), 0);
	onboard_in(&in, 2, NULL, T0 + 1, b);
	assert_int_equal(store_poll(f->st, req2, in.poll_token_hash, "s", NULL, 0, T0 + 9, &pr, dev, &err),
			 0);
	assert_int_equal(pr, STORE_POLL_REJECTED);
	onboard_in(&in, 2, NULL, T0 + 10, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_REJECTED);
	assert_int_equal(store_device_approve(f->st, "00000000-0000-4000-8000-000000000002",
					      T0 + 11, &err), MARGO_ECONFLICT);
	assert_int_equal(store_device_approve(f->st, "00000000-0000-4000-8000-0000000000ff",
					      T0 + 11, &err), MARGO_ENOTFOUND);
}

static void test_pending_expiry_and_repeat(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct margo_error err;
	struct store_device *devs = NULL;
	enum store_poll_result pr;
	char b[6][80], dev[MARGO_UUID_LEN], req[MARGO_UUID_LEN];
	size_t n;

	onboard_in(&in, 5, NULL, T0, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	strcpy(req, out.request_id);

	/* Repeated while pending: same request, new poll token. */
	onboard_in(&in, 5, NULL, T0 + 10, b);
	in.poll_token_hash = "poll-new";
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	assert_string_equal(out.request_id, req);
	assert_int_equal(store_poll(f->st, req, "poll-new", "s", NULL, 0, T0 + 11, &pr, dev, &err), 0);
	assert_int_equal(pr, STORE_POLL_PENDING);
	/* ... also when it repeats with a token that is unknown or used up by now. */
	onboard_in(&in, 5, "unknown-token", T0 + 10, b);
	in.poll_token_hash = "poll-new";
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	assert_string_equal(out.request_id, req);
	assert_int_equal(store_device_list(f->st, NULL, T0 + 11, &devs, &n, &err), 0);
	assert_int_equal(n, 1);
	store_devices_free(devs, n);

	/* Past its lifetime the request expires and its device disappears. */
	assert_int_equal(store_poll(f->st, req, "poll-new", "s", NULL, 0, T0 + 101, &pr, dev, &err), 0);
	assert_int_equal(pr, STORE_POLL_GONE);
	assert_int_equal(store_device_list(f->st, NULL, T0 + 101, &devs, &n, &err), 0);
	assert_int_equal(n, 0);
	free(devs);

	/* Approval requests disabled: nothing recorded. */
	onboard_in(&in, 6, NULL, T0 + 102, b);
	in.allow_approval_requests = 0;
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_UNAUTHORISED);

	/* Pre-registered: approved at once; duplicates refused; removal works once. */
	assert_int_equal(store_certificate_add(f->st, "sha256:" "0000000000000000000000000000000000000000000000000000000000000006",
					       "PEM", "d", T0, &err), 0);
	assert_int_equal(store_certificate_add(f->st, "sha256:" "0000000000000000000000000000000000000000000000000000000000000006",
					       "PEM", "d", T0, &err), MARGO_EEXIST);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_int_equal(store_certificate_remove(f->st, "sha256:" "0000000000000000000000000000000000000000000000000000000000000006",
						  &err), 0);
	assert_int_equal(store_certificate_remove(f->st, "sha256:" "0000000000000000000000000000000000000000000000000000000000000006",
						  &err), MARGO_ENOTFOUND);
}

static void test_documents(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct margo_error err;
	struct store_deployment *deps = NULL;
	char b[6][80], *doc = NULL, state_buf[16];
	size_t n, len;
	int64_t at;

	onboard_in(&in, 7, NULL, T0, b);
	assert_int_equal(store_certificate_add(f->st, in.fingerprint, "PEM", "", T0, &err), 0);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_int_equal(store_capabilities_get(f->st, out.device_id, &doc, &len, &at, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(store_capabilities_put(f->st, out.device_id, "{\"a\":1}", 7, T0, &err), 0);
	assert_int_equal(store_capabilities_put(f->st, out.device_id, "{\"a\": 2}", 8, T0 + 1,
						&err), 0);
	assert_int_equal(store_capabilities_get(f->st, out.device_id, &doc, &len, &at, &err), 0);
	assert_string_equal(doc, "{\"a\": 2}");
	assert_int_equal(len, 8);
	assert_int_equal(at, T0 + 1);
	free(doc);

	for (int i = 0; i < STORE_STATUS_HISTORY + 5; i++) {
		snprintf(state_buf, sizeof(state_buf), "%s", i % 2 ? "Installed" : "Installing");
		assert_int_equal(store_deployment_status_add(f->st, out.device_id, "dep-1", state_buf,
							     "{}", 2, T0 + i, &err), 0);
	}
	assert_int_equal(store_deployment_status_add(f->st, out.device_id, "dep-2", "Failed",
						     "{\"x\":1}", 7, T0, &err), 0);
	assert_int_equal(store_deployment_list(f->st, out.device_id, &deps, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(deps[0].deployment_id, "dep-1");
	assert_string_equal(deps[0].state, "Installing");
	assert_int_equal(deps[0].received_at, T0 + STORE_STATUS_HISTORY + 4);
	assert_string_equal(deps[1].state, "Failed");
	assert_string_equal(deps[1].document, "{\"x\":1}");
	store_deployments_free(deps, n);
}

static void test_git_and_desired(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct margo_error err;
	struct store_desired *items = NULL;
	struct store_desired_change ch;
	char b[6][80], dev[MARGO_UUID_LEN], rev[STORE_REVISION_LEN], name[STORE_TEXT_MAX];
	size_t n;

	onboard_in(&in, 8, NULL, T0, b);
	in.git_token_hash = "gt0";
	in.git_token_expires_at = T0 + 100;
	assert_int_equal(store_certificate_add(f->st, in.fingerprint, "PEM", "", T0, &err), 0);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_int_equal(store_git_token_check(f->st, "gt0", T0 + 1, dev, &err), 0);
	assert_string_equal(dev, out.device_id);
	assert_int_equal(store_git_token_check(f->st, "gt0", T0 + 100, dev, &err), MARGO_EAUTH);

	/* Overlapping tokens, at most STORE_GIT_TOKENS_MAX live: the oldest is dropped. */
	assert_int_equal(store_git_token_issue(f->st, out.device_id, "gt1", T0 + 2, T0 + 100, &err),
			 0);
	assert_int_equal(store_git_token_issue(f->st, out.device_id, "gt2", T0 + 3, T0 + 100, &err),
			 0);
	assert_int_equal(store_git_token_check(f->st, "gt0", T0 + 4, dev, &err), 0);
	assert_int_equal(store_git_token_issue(f->st, out.device_id, "gt3", T0 + 4, T0 + 100, &err),
			 0);
	assert_int_equal(store_git_token_check(f->st, "gt0", T0 + 5, dev, &err), MARGO_EAUTH);
	assert_int_equal(store_git_token_check(f->st, "gt1", T0 + 5, dev, &err), 0);
	assert_int_equal(store_git_token_check(f->st, "gt3", T0 + 5, dev, &err), 0);

	/* The reference (revision) and desired deployments, changed together (store_desired.h). */
	assert_int_equal(store_repo_revision_get(f->st, out.device_id, rev, &err), MARGO_ENOTFOUND);
	ch = (struct store_desired_change){ .device_id = out.device_id, .old_rev = NULL,
					    .new_rev = "abc", .now = T0 };
	assert_int_equal(store_desired_commit(f->st, &ch, &err), 0);
	assert_int_equal(store_desired_commit(f->st, &ch, &err), MARGO_ECONFLICT);
	ch.old_rev = "abc";
	ch.new_rev = "def";
	assert_int_equal(store_desired_commit(f->st, &ch, &err), 0);
	assert_int_equal(store_repo_revision_get(f->st, out.device_id, rev, &err), 0);
	assert_string_equal(rev, "def");
	assert_int_equal(store_deployment_desired_get(f->st, out.device_id, "d1", name, &err),
			 MARGO_ENOTFOUND);
	ch = (struct store_desired_change){ .device_id = out.device_id, .old_rev = "def",
					    .new_rev = "def", .op = STORE_DESIRED_PUT,
					    .deployment_id = "d1", .name = "n1",
					    .application_id = "app", .now = T0 };
	assert_int_equal(store_desired_commit(f->st, &ch, &err), 0);
	ch.name = "n2";
	ch.now = T0 + 1;
	assert_int_equal(store_desired_commit(f->st, &ch, &err), 0);
	assert_int_equal(store_deployment_desired_get(f->st, out.device_id, "d1", name, &err), 0);
	assert_string_equal(name, "n2");
	assert_int_equal(store_deployment_status_add(f->st, out.device_id, "d1", "Failed",
						     "{\"s\":1}", 7, T0 + 2, &err), 0);
	assert_int_equal(store_deployment_desired_list(f->st, out.device_id, &items, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].state, "Failed");
	assert_int_equal(items[0].received_at, T0 + 2);
	assert_string_equal(items[0].status_document, "{\"s\":1}");
	store_desired_free(items, n);
	ch.op = STORE_DESIRED_REMOVE;
	assert_int_equal(store_desired_commit(f->st, &ch, &err), 0);
	assert_int_equal(store_desired_commit(f->st, &ch, &err), MARGO_ENOTFOUND);

	/* Revocation takes the git tokens along. */
	assert_int_equal(store_device_revoke(f->st, out.device_id, T0 + 6, &err), 0);
	assert_int_equal(store_git_token_check(f->st, "gt3", T0 + 7, dev, &err), MARGO_EAUTH);
	assert_int_equal(store_git_token_issue(f->st, out.device_id, "gt4", T0 + 7, T0 + 100, &err),
			 MARGO_EAUTH);
}

/* store_batch_begin/end: one transaction around several calls; a failing call inside undoes
 * only its own writes; a batch ended with an error undoes all of them. */
static void test_batch(void **state)
{
	struct fixture *f = *state;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct store_device d;
	struct margo_error err;
	char b[6][80], d1[MARGO_UUID_LEN], d2[MARGO_UUID_LEN];

	onboard_in(&in, 1, NULL, T0, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	strcpy(d1, out.device_id);
	onboard_in(&in, 2, NULL, T0, b);
	assert_int_equal(store_onboard(f->st, &in, &out, &err), 0);
	strcpy(d2, out.device_id);

	assert_int_equal(store_batch_end(f->st, 0, &err), MARGO_EINVAL);
	assert_int_equal(store_batch_begin(f->st, &err), 0);
	assert_int_equal(store_device_approve(f->st, d1, T0 + 1, &err), 0);
	assert_int_equal(store_device_approve(f->st, d1, T0 + 1, &err), MARGO_ECONFLICT);
	assert_int_equal(store_device_reject(f->st, d2, T0 + 1, &err), 0);
	assert_int_equal(store_batch_end(f->st, 0, &err), 0);
	assert_int_equal(store_device_get(f->st, d1, T0 + 2, &d, &err), 0);
	assert_string_equal(d.state, "active");
	store_device_clear(&d);
	assert_int_equal(store_device_get(f->st, d2, T0 + 2, &d, &err), 0);
	assert_string_equal(d.state, "rejected");
	store_device_clear(&d);

	/* Ended with an error: the revocation inside is undone. */
	assert_int_equal(store_batch_begin(f->st, &err), 0);
	assert_int_equal(store_device_revoke(f->st, d1, T0 + 3, &err), 0);
	assert_int_equal(store_batch_end(f->st, MARGO_ECONFLICT, &err), MARGO_ECONFLICT);
	assert_int_equal(store_device_get(f->st, d1, T0 + 4, &d, &err), 0);
	assert_string_equal(d.state, "active");
	store_device_clear(&d);

	/* And the store is usable on its own after the batches. */
	assert_int_equal(store_device_revoke(f->st, d1, T0 + 5, &err), 0);
	assert_int_equal(store_device_get(f->st, d1, T0 + 6, &d, &err), 0);
	assert_string_equal(d.state, "revoked");
	store_device_clear(&d);
}

/* Leases: one holder at a time; renewed by its holder; taken over once expired. */
static void test_lease(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	int held = -1;

	assert_int_equal(store_lease_take(f->st, "job", "a", T0, 10, &held, &err), 0);
	assert_int_equal(held, 1);
	assert_int_equal(store_lease_take(f->st, "job", "b", T0 + 1, 10, &held, &err), 0);
	assert_int_equal(held, 0);
	/* Another name is another lease. */
	assert_int_equal(store_lease_take(f->st, "other", "b", T0 + 1, 10, &held, &err), 0);
	assert_int_equal(held, 1);
	/* a renews until T0 + 19: b still cannot at T0 + 12, when a's first term is over. */
	assert_int_equal(store_lease_take(f->st, "job", "a", T0 + 9, 10, &held, &err), 0);
	assert_int_equal(held, 1);
	assert_int_equal(store_lease_take(f->st, "job", "b", T0 + 12, 10, &held, &err), 0);
	assert_int_equal(held, 0);
	/* Expired: b takes it, and a has lost it. */
	assert_int_equal(store_lease_take(f->st, "job", "b", T0 + 19, 10, &held, &err), 0);
	assert_int_equal(held, 1);
	assert_int_equal(store_lease_take(f->st, "job", "a", T0 + 20, 10, &held, &err), 0);
	assert_int_equal(held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approval_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_expiry_and_repeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_documents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_and_desired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
