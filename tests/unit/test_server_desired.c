/* desired.c (and git_tree.c, store_{sqlite,pg}_desired.c, desired_import.c) against a real
 * store (SQLite in a temporary directory, or PostgreSQL under WFMD_TEST_PG: store_fixture.h);
 * what it writes is checked by real git (fsck --strict on the objects exported into a bare
 * repository). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "margo/hex.h"
#include "desired.h"
#include "git_oid.h"
#include "git_tree.h"
#include "store.h"
#include "store_desired.h"
#include "store_fixture.h"

#define DEV1 "00000000-0000-4000-8000-000000000001"
#define DEV2 "00000000-0000-4000-8000-000000000002"
#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void device_add(struct fixture *f, const char *id)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO devices (id, state, certificate_pem,"
		 " certificate_fingerprint, keyid, created_at) VALUES ('%s', 'active', 'PEM',"
		 " 'fp-%s', 'k', 0)", id, id);
	store_fixture_sql(f, sql);
}

static int setup(void **state)
{
	store_fixture_setup(state, "/tmp/test_server_desired.XXXXXX");
	device_add(*state, DEV1);
	device_add(*state, DEV2);
	return 0;
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* Reads object hex through the device's git source. */
static char *source_read(store *st, const char *dev, const char *hex, int *type, size_t *len)
{
	struct git_source src;
	struct margo_error err;
	unsigned char oid[20], *data = NULL;

	assert_int_equal(git_oid_from_hex(hex, oid), 0);
	assert_int_equal(desired_git_source(st, dev, &src, &err), 0);
	assert_int_equal(src.read(src.ctx, oid, type, &data, len, &err), 0);
	git_source_close(&src);
	return (char *)data;
}

/* Copies every object reachable from main into a new bare repository DIR/NAME.git (git
 * hash-object -w), points main at it and runs git fsck --strict there. */
static void export_commit(struct fixture *f, const char *dev, const char *hex, const char *repo);

static void export_tree(struct fixture *f, const char *dev, const char *hex, const char *objects)
{
	static const char *const names[] = { "", "commit", "tree", "blob", "tag" };
	char oid[64] = "", tmp[512], cmd[768];
	int type;
	size_t len;
	char *data;
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s/%.2s/%s", objects, hex, hex + 2);
	if (access(tmp, F_OK) == 0)
		return;         /* exported with everything it refers to */
	data = source_read(f->st, dev, hex, &type, &len);
	if (type == STORE_OBJECT_TREE) {
		const char *p = data, *end = data + len;

		while (p < end) {
			const char *nul = memchr(p, '\0', (size_t)(end - p));
			char child[41];

			margo_hex_lower((const unsigned char *)nul + 1, 20, child);
			export_tree(f, dev, child, objects);
			p = nul + 21;
		}
	}
	/* git writes the object itself (and computes its id from the content again). */
	snprintf(tmp, sizeof(tmp), "%s/object.tmp", f->dir);
	fp = fopen(tmp, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "git --git-dir='%s/..' hash-object -w --literally -t %s '%s'",
		 objects, names[type], tmp);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	assert_non_null(fgets(oid, sizeof(oid), fp));
	assert_int_equal(pclose(fp), 0);
	oid[strcspn(oid, "\n")] = '\0';
	assert_string_equal(oid, hex);
	free(data);
}

static void export_commit(struct fixture *f, const char *dev, const char *hex, const char *repo)
{
	char objects[256], tree[41], parent[41];
	int type;
	size_t len;
	char *data = source_read(f->st, dev, hex, &type, &len);

	assert_int_equal(type, STORE_OBJECT_COMMIT);
	snprintf(objects, sizeof(objects), "%s/objects", repo);
	memcpy(tree, data + 5, 40);
	tree[40] = '\0';
	export_tree(f, dev, tree, objects);
	if (strncmp(data + 46, "parent ", 7) == 0) {
		memcpy(parent, data + 53, 40);
		parent[40] = '\0';
		export_commit(f, dev, parent, repo);
	}
	export_tree(f, dev, hex, objects);       /* the commit, after what it refers to */
	free(data);
}

static void fsck(struct fixture *f, const char *dev, const char *rev)
{
	char repo[256];

	snprintf(repo, sizeof(repo), "%s/export-%s.git", f->dir, rev);
	sh("git init -q -b main --bare '%s'", repo);
	export_commit(f, dev, rev, repo);
	sh("git --git-dir='%s' update-ref refs/heads/main %s", repo, rev);
	sh("git --git-dir='%s' fsck --strict --no-dangling 2>&1", repo);
}

static void test_ensure(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	struct git_source src;
	char rev[STORE_REVISION_LEN], again[STORE_REVISION_LEN], hex[41];
	unsigned char oid[20];
	int created = 0, type;
	size_t len;
	char *commit;

	assert_int_equal(desired_revision(f->st, DEV1, rev, &err), MARGO_ENOTFOUND);
	assert_int_equal(desired_repo_ensure(f->st, DEV1, rev, &created, &err), 0);
	assert_int_equal(created, 1);
	assert_int_equal(strlen(rev), 40);
	assert_int_equal(desired_repo_ensure(f->st, DEV1, again, &created, &err), 0);
	assert_int_equal(created, 0);
	assert_string_equal(rev, again);
	/* The reference the Git server reads is the revision. */
	assert_int_equal(desired_git_source(f->st, DEV1, &src, &err), 0);
	assert_int_equal(src.ref(src.ctx, "main", oid, &err), 0);
	margo_hex_lower(oid, 20, hex);
	assert_string_equal(hex, rev);
	assert_int_equal(src.ref(src.ctx, "other", oid, &err), MARGO_ENOTFOUND);
	git_source_close(&src);
	commit = source_read(f->st, DEV1, rev, &type, &len);
	assert_int_equal(strncmp(commit, "tree " EMPTY_TREE "\n", 46), 0);
	assert_non_null(strstr(commit, "\n\n" DESIRED_INIT_MESSAGE "\n"));
	free(commit);
	fsck(f, DEV1, rev);
	/* No device, no repository. */
	assert_int_equal(desired_repo_ensure(f->st, "00000000-0000-4000-8000-00000000dead", rev,
					     NULL, &err), MARGO_ENOTFOUND);
}

/* store_access_poll: the access check and the revision in one call, as a poll needs them;
 * store_git_token_access, the same for a Git request. */
static void test_access_poll(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char rev[STORE_REVISION_LEN], made[STORE_REVISION_LEN], id[MARGO_UUID_LEN];

	/* Before the first poll there is no repository: "" and no error. */
	strcpy(rev, "x");
	assert_int_equal(store_access_poll(f->st, DEV1, 0, 100, rev, &err), 0);
	assert_string_equal(rev, "");
	/* The Git requests' twin: the token's device and its revision. */
	assert_int_equal(store_git_token_issue(f->st, DEV1, "gith", 100, 200, &err), 0);
	strcpy(rev, "x");
	assert_int_equal(store_git_token_access(f->st, "gith", 150, id, rev, &err), 0);
	assert_string_equal(id, DEV1);
	assert_string_equal(rev, "");
	assert_int_equal(desired_repo_ensure(f->st, DEV1, made, NULL, &err), 0);
	assert_int_equal(store_access_poll(f->st, DEV1, 0, 100, rev, &err), 0);
	assert_string_equal(rev, made);
	assert_int_equal(store_git_token_access(f->st, "gith", 150, id, rev, &err), 0);
	assert_string_equal(rev, made);
	assert_int_equal(store_git_token_access(f->st, "gith", 200, id, rev, &err), MARGO_EAUTH);
	assert_int_equal(store_git_token_access(f->st, "nope", 150, id, rev, &err), MARGO_EAUTH);
	/* The access check is the same as store_access_check's. */
	assert_int_equal(store_access_poll(f->st, DEV1, 1, 100, rev, &err), MARGO_EAUTH);
	assert_non_null(strstr(err.message, "retired"));
	assert_int_equal(store_access_poll(f->st, "00000000-0000-4000-8000-00000000dead", 0, 100,
					   rev, &err), MARGO_EAUTH);
	store_fixture_sql(f, "UPDATE devices SET state = 'revoked' WHERE id = '" DEV1 "'");
	assert_int_equal(store_access_poll(f->st, DEV1, 0, 100, rev, &err), MARGO_EAUTH);
	assert_non_null(strstr(err.message, "not active"));
	/* The other device's repository is its own. */
	assert_int_equal(store_access_poll(f->st, DEV2, 0, 100, rev, &err), 0);
	assert_string_equal(rev, "");
}

static void test_put_update_remove(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char r0[STORE_REVISION_LEN], r1[STORE_REVISION_LEN], r2[STORE_REVISION_LEN];
	char r3[STORE_REVISION_LEN], r4[STORE_REVISION_LEN], name[STORE_TEXT_MAX], *y, *c;
	size_t len;
	int changed = -1, type;

	assert_int_equal(desired_repo_ensure(f->st, DEV1, r0, NULL, &err), 0);
	assert_int_equal(desired_put(f->st, DEV1, "web", "a: 1\n", 5, "web", "com.x", "Deploy web",
				     r1, &changed, &err), 0);
	assert_int_equal(changed, 1);
	assert_string_not_equal(r0, r1);
	assert_int_equal(desired_get(f->st, DEV1, "web", &y, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(y, "a: 1\n");
	free(y);
	assert_int_equal(store_deployment_desired_get(f->st, DEV1, "web", name, &err), 0);
	assert_string_equal(name, "web");
	/* Same content: no commit. */
	assert_int_equal(desired_put(f->st, DEV1, "web", "a: 1\n", 5, "web", "com.x", "Update web",
				     r2, &changed, &err), 0);
	assert_int_equal(changed, 0);
	assert_string_equal(r1, r2);
	assert_int_equal(desired_put(f->st, DEV1, "web", "a: 2\n", 5, "web2", "com.x", "Update web",
				     r2, &changed, &err), 0);
	assert_int_equal(changed, 1);
	c = source_read(f->st, DEV1, r2, &type, &len);
	assert_non_null(strstr(c, r1));         /* parent */
	assert_non_null(strstr(c, "\n\nUpdate web\n"));
	free(c);
	assert_int_equal(desired_put(f->st, DEV1, "db", "b\n", 2, "db", "com.y", "Deploy db", r3,
				     &changed, &err), 0);
	fsck(f, DEV1, r3);
	assert_int_equal(desired_remove(f->st, DEV1, "web", "Undeploy web", r4, &err), 0);
	assert_int_equal(desired_get(f->st, DEV1, "web", &y, &len, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_deployment_desired_get(f->st, DEV1, "web", name, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(desired_remove(f->st, DEV1, "web", "Undeploy web", r4, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(desired_remove(f->st, DEV1, "db", "Undeploy db", r4, &err), 0);
	/* Nothing deployed: the empty tree, as git write-tree gives it. */
	c = source_read(f->st, DEV1, r4, &type, &len);
	assert_int_equal(strncmp(c, "tree " EMPTY_TREE "\n", 46), 0);
	free(c);
	fsck(f, DEV1, r4);
}

/* Entry order: git's (a tree's name sorts as if followed by '/'), checked by fsck. */
static void test_tree_order(void **state)
{
	static const char *const ids[] = { "b", "a.b", "a-b", "a", "a_b", "A", "0", "a.yaml.x",
					   "zz", "a.y" };
	struct fixture *f = *state;
	struct margo_error err;
	char rev[STORE_REVISION_LEN];
	int changed;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(desired_put(f->st, DEV2, ids[i], ids[i], strlen(ids[i]), "n", "a",
					     "Deploy", rev, &changed, &err), 0);
	fsck(f, DEV2, rev);
	sh("test \"$(git --git-dir='%s/export-%s.git' ls-tree -r --name-only main | wc -l)\" = 10",
	   f->dir, rev);
}

/* The same YAML for two devices is one blob. */
static void test_dedup(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	struct store_object_stats s0, s1, s2;
	char rev[STORE_REVISION_LEN];
	int changed;

	assert_int_equal(desired_repo_ensure(f->st, DEV1, rev, NULL, &err), 0);
	assert_int_equal(desired_repo_ensure(f->st, DEV2, rev, NULL, &err), 0);
	assert_int_equal(store_object_stats(f->st, &s0, &err), 0);
	assert_int_equal(desired_put(f->st, DEV1, "web", "same\n", 5, "w", "a", "Deploy web", rev,
				     &changed, &err), 0);
	assert_int_equal(store_object_stats(f->st, &s1, &err), 0);
	/* blob, deployments tree, root tree, commit */
	assert_int_equal(s1.objects - s0.objects, 4);
	assert_int_equal(desired_put(f->st, DEV2, "web", "same\n", 5, "w", "a", "Deploy web 2", rev,
				     &changed, &err), 0);
	assert_int_equal(store_object_stats(f->st, &s2, &err), 0);
	/* Only the commit is new (its message differs); blob and trees are shared. */
	assert_int_equal(s2.objects - s1.objects, 1);
	assert_int_equal(s2.refs, 2);
}

/* A change whose reference moved underneath writes nothing. */
static void test_compare_and_swap(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	struct store_desired_change ch;
	struct store_object o = { .type = STORE_OBJECT_BLOB, .data = "x", .len = 1 };
	char rev[STORE_REVISION_LEN], after[STORE_REVISION_LEN], name[STORE_TEXT_MAX];
	unsigned char *data;
	size_t len;
	int type;

	assert_int_equal(desired_repo_ensure(f->st, DEV1, rev, NULL, &err), 0);
	assert_int_equal(git_tree_oid("blob", "x", 1, o.oid, &err), 0);
	ch = (struct store_desired_change){ .device_id = DEV1,
		.old_rev = "1111111111111111111111111111111111111111",
		.new_rev = "2222222222222222222222222222222222222222", .objects = &o, .nobjects = 1,
		.op = STORE_DESIRED_PUT, .deployment_id = "web", .name = "w",
		.application_id = "a", .now = 1 };
	assert_int_equal(store_desired_commit(f->st, &ch, &err), MARGO_ECONFLICT);
	assert_int_equal(desired_revision(f->st, DEV1, after, &err), 0);
	assert_string_equal(rev, after);
	assert_int_equal(store_object_get(f->st, o.oid, &type, &data, &len, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_deployment_desired_get(f->st, DEV1, "web", name, &err),
			 MARGO_ENOTFOUND);
	/* A creation when the repository exists is a conflict too. */
	ch.old_rev = NULL;
	assert_int_equal(store_desired_commit(f->st, &ch, &err), MARGO_ECONFLICT);
}

struct writer {
	store *st;
	int n;
	char failed[600];       /* why a put failed, "" when none did */
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct margo_error err;
	char id[32], rev[STORE_REVISION_LEN];
	int changed;

	for (int i = 0; i < 25; i++) {
		snprintf(id, sizeof(id), "dep-%d-%d", w->n, i);
		if (desired_put(w->st, DEV1, id, id, strlen(id), "n", "a", id, rev, &changed,
				&err) < 0) {
			snprintf(w->failed, sizeof(w->failed), "put %s: %s", id, err.message);
			return w->failed;
		}
		if (!changed) {
			snprintf(w->failed, sizeof(w->failed), "put %s: no change", id);
			return w->failed;
		}
	}
	return NULL;
}

/* Writers racing on one device: every change is one commit on a linear history. */
static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct writer w[4];
	pthread_t t[4];
	struct margo_error err;
	char rev[STORE_REVISION_LEN];
	void *res[4];

	assert_int_equal(desired_repo_ensure(f->st, DEV1, rev, NULL, &err), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ f->st, i, "" };
		assert_int_equal(pthread_create(&t[i], NULL, writer_run, &w[i]), 0);
	}
	/* Every writer joined before any verdict: a failure must not free the store under the
	 * others. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], &res[i]), 0);
	for (int i = 0; i < 4; i++)
		if (res[i] != NULL)
			fail_msg("writer %d: %s", i, (const char *)res[i]);
	assert_int_equal(desired_revision(f->st, DEV1, rev, &err), 0);
	fsck(f, DEV1, rev);
	sh("test \"$(git --git-dir='%s/export-%s.git' rev-list --count main)\" = 101", f->dir, rev);
	sh("test \"$(git --git-dir='%s/export-%s.git' ls-tree -r --name-only main | wc -l)\" = 100",
	   f->dir, rev);
}

/* Repositories of the old on-disk layout (one packed, one loose) imported; the directory is
 * renamed when done, and a second run is a no-op. */
static void test_import(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char repos[128], rev[STORE_REVISION_LEN], *y;
	size_t len;
	long n = -1;

	snprintf(repos, sizeof(repos), "%s/repos", f->dir);
	for (int i = 1; i <= 2; i++) {
		const char *dev = i == 1 ? DEV1 : DEV2;

		sh("cd '%s' && git init -q -b main work%d && cd work%d && mkdir deployments && "
		   "echo 'v: 1%d' > deployments/web.yaml && git add . && "
		   "git -c user.name=t -c user.email=t@t commit -qm 'Deploy web' && "
		   "echo 'v: 2' > deployments/web.yaml && "
		   "git -c user.name=t -c user.email=t@t commit -qam 'Update web' && "
		   "git clone -q --bare . '%s/%s.git' && git rev-parse HEAD > ../head%d",
		   f->dir, i, i, i, repos, dev, i);
	}
	sh("git --git-dir='%s/%s.git' gc -q", repos, DEV1);
	sh("mkdir -p '%s/not-a-device.git' '%s/00000000-0000-4000-8000-0000000000ff.git'", repos,
	   repos);
	assert_int_equal(desired_import(f->st, repos, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(access(repos, F_OK), -1);
	sh("test -d '%s.imported'", repos);
	assert_int_equal(desired_revision(f->st, DEV1, rev, &err), 0);
	sh("test \"$(cat '%s/head1')\" = %s", f->dir, rev);
	assert_int_equal(desired_get(f->st, DEV1, "web", &y, &len, &err), 0);
	assert_string_equal(y, "v: 2\n");
	free(y);
	fsck(f, DEV1, rev);
	sh("test \"$(git --git-dir='%s/export-%s.git' rev-list --count main)\" = 2", f->dir, rev);
	assert_int_equal(desired_revision(f->st, DEV2, rev, &err), 0);
	sh("test \"$(cat '%s/head2')\" = %s", f->dir, rev);
	assert_int_equal(desired_import(f->st, repos, &n, &err), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_update_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare_and_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
