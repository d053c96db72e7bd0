/* repo.c against real bare repositories in a temporary directory (needs git on PATH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "git_upload.h"
#include "repo.h"
#include "repo_source.h"

#define DEV "6f1c0000-0000-4000-8000-000000000001"

static char root[64];
static char hook_rev[STORE_REVISION_LEN];
static int hook_calls;

static void hook(void *ctx, const char *device_id, const char *rev)
{
	(void)ctx;
	assert_string_equal(device_id, DEV);
	snprintf(hook_rev, sizeof(hook_rev), "%s", rev);
	hook_calls++;
}

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
	repo_set_commit_hook(hook, NULL);
	hook_calls = 0;
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
	char subject[256];
	struct git_source src = { 0 };
	struct git_buf out = { 0 };
	int created = -1, changed = -1;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev0, &created, &err), 0);
	assert_int_equal(created, 1);
	assert_int_equal(strlen(rev0), 40);
	assert_string_equal(hook_rev, rev0);
	last_subject(subject, sizeof(subject));
	assert_string_equal(subject, REPO_INIT_MESSAGE);

	assert_int_equal(repo_ensure(root, DEV, rev, &created, &err), 0);
	assert_int_equal(created, 0);
	assert_string_equal(rev, rev0);

	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "x: 1\n", 5,
				       "Deploy a (x)", rev, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_string_not_equal(rev, rev0);
	assert_string_equal(hook_rev, rev);
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
	assert_int_equal(repo_source_open(root, DEV, &src, &err), 0);
	assert_int_equal(git_upload_advertise(&src, 0, &out, &err), 0);
	/* pkt-lines hold a NUL before the capabilities: search the whole buffer. */
	assert_non_null(memmem(out.data, out.len, "refs/heads/main", 15));
	assert_non_null(memmem(out.data, out.len, rev, strlen(rev)));
	git_buf_free(&out);
	assert_int_equal(git_upload_advertise(&src, 1, &out, &err), 0);
	assert_non_null(memmem(out.data, out.len, "version 2", 9));
	git_buf_free(&out);
	git_source_close(&src);
}

static void test_confinement(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN];
	struct git_source src = { 0 };

	(void)state;
	assert_int_equal(repo_ensure(root, "../../etc", rev, NULL, &err), MARGO_EINVAL);
	assert_int_equal(repo_ensure(root, "6F1C0000-0000-4000-8000-000000000001", rev, NULL,
				     &err), MARGO_EINVAL);
	assert_int_equal(repo_source_open(root, "6f1c0000-0000-4000-8000-0000000000ff", &src,
					  &err), MARGO_ENOTFOUND);
	assert_int_equal(repo_source_open(root, "../../etc", &src, &err), MARGO_EINVAL);
	assert_null(src.ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confinement, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
