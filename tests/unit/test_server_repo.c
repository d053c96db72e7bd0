/* repo.c against real bare repositories in a temporary directory (needs git on PATH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "desired.h"
#include "repo.h"

#define DEV "6f1c0000-0000-4000-8000-000000000001"

static char root[64];

static int setup(void **state)
{
	struct margo_error err;
	char sub[80];

	(void)state;
	strcpy(root, "/tmp/test_server_repo.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(sub, sizeof(sub), "%s/repos", root);
	assert_int_equal(repo_root_init(sub, &err), 0);
	strcat(root, "/repos");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	root[strlen(root) - strlen("/repos")] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd);
}

/* The subject of main's last commit. */
static void last_subject(char *out, size_t size)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git --git-dir='%s/%s.git' log -1 --format=%%s main", root, DEV);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)size, p));
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static void test_lifecycle(void **state)
{
	struct margo_error err;
	char rev0[STORE_REVISION_LEN], rev[STORE_REVISION_LEN], rev2[STORE_REVISION_LEN];
	char subject[256], *out = NULL;
	size_t out_len = 0;
	int created = -1, changed = -1;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev0, &created, &err), 0);
	assert_int_equal(created, 1);
	assert_int_equal(strlen(rev0), 40);
	last_subject(subject, sizeof(subject));
	assert_string_equal(subject, REPO_INIT_MESSAGE);

	assert_int_equal(repo_ensure(root, DEV, rev, &created, &err), 0);
	assert_int_equal(created, 0);
	assert_string_equal(rev, rev0);

	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "x: 1\n", 5,
				       "Deploy a (x)", rev, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_string_not_equal(rev, rev0);
	last_subject(subject, sizeof(subject));
	assert_string_equal(subject, "Deploy a (x)");

	/* The same content again makes no commit. */
	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "x: 1\n", 5,
				       "Update a (x)", rev2, &changed, &err), 0);
	assert_int_equal(changed, 0);
	assert_string_equal(rev2, rev);

	assert_int_equal(repo_put_file(root, DEV, "deployments/b.yaml", "y: 2\n", 5,
				       "Deploy b (y)", rev2, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(repo_remove_file(root, DEV, "deployments/a.yaml", "Undeploy a", rev,
					  &err), 0);
	last_subject(subject, sizeof(subject));
	assert_string_equal(subject, "Undeploy a");
	assert_int_equal(repo_remove_file(root, DEV, "deployments/a.yaml", "Undeploy a", rev2,
					  &err), MARGO_ENOTFOUND);

	/* What clients are served: the ref advertisement names main at the new revision. */
	assert_int_equal(repo_upload_pack(root, DEV, 1, NULL, NULL, 0, &out, &out_len, &err), 0);
	assert_true(out_len > 0);
	/* pkt-lines hold a NUL before the capabilities: search the whole buffer. */
	assert_non_null(memmem(out, out_len, "refs/heads/main", 15));
	assert_non_null(memmem(out, out_len, rev, strlen(rev)));
	free(out);
	out = NULL;
	assert_int_equal(repo_upload_pack(root, DEV, 1, "version=2", NULL, 0, &out, &out_len,
					  &err), 0);
	assert_non_null(memmem(out, out_len, "version 2", 9));
	free(out);
}

static void test_confinement(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN], *out = NULL;
	size_t out_len;

	(void)state;
	assert_int_equal(repo_ensure(root, "../../etc", rev, NULL, &err), MARGO_EINVAL);
	assert_int_equal(repo_ensure(root, "6F1C0000-0000-4000-8000-000000000001", rev, NULL,
				     &err), MARGO_EINVAL);
	assert_int_equal(repo_upload_pack(root, "6f1c0000-0000-4000-8000-0000000000ff", 1, NULL,
					  NULL, 0, &out, &out_len, &err), MARGO_ENOTFOUND);
	assert_null(out);
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* The copy upload-pack serves follows the store: created, then brought forward commit by
 * commit, each state a valid repository whose main is the store's revision. */
static void test_sync(void **state)
{
	struct margo_error err;
	struct git_source src;
	store *st = NULL;
	sqlite3 *db;
	char path[160], rev[STORE_REVISION_LEN], cmd[512], subject[256];
	int changed;

	(void)state;
	snprintf(path, sizeof(path), "%s/wfmd.db", root);
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO devices (id, state, certificate_pem,"
				      " certificate_fingerprint, keyid, created_at) VALUES ('" DEV
				      "', 'active', 'PEM', 'fp', 'k', 0)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(desired_git_source(st, DEV, &src, &err), 0);
	assert_int_equal(repo_sync(root, DEV, &src, &err), MARGO_ENOTFOUND);
	for (int i = 0; i < 3; i++) {
		char file[16], msg[32];

		snprintf(file, sizeof(file), "d%d", i);
		snprintf(msg, sizeof(msg), "Deploy d%d", i);
		assert_int_equal(desired_put(st, DEV, file, msg, strlen(msg), "n", "a", msg, rev,
					     &changed, &err), 0);
		assert_int_equal(repo_sync(root, DEV, &src, &err), 0);
		snprintf(cmd, sizeof(cmd), "git --git-dir='%s/%s.git' fsck --strict 2>&1 && "
			 "test \"$(git --git-dir='%s/%s.git' rev-parse main)\" = %s", root, DEV,
			 root, DEV, rev);
		sh(cmd);
		last_subject(subject, sizeof(subject));
		assert_string_equal(subject, msg);
	}
	/* Up to date: nothing to do, still the same. */
	assert_int_equal(repo_sync(root, DEV, &src, &err), 0);
	git_source_close(&src);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confinement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
