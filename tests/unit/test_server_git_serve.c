/* git_serve.c and the native repository creation of repo.c against git itself: every answer
 * wfmd gives without a process must be byte-identical to `git upload-pack --stateless-rpc
 * [--advertise-refs]` run on the same repository, for the repository shapes wfmd produces
 * (created, deployed to, packed, several branches, unborn HEAD); shapes it does not cover are
 * declined and still answered by git. Needs git on PATH. */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "git_refs.h"
#include "git_serve.h"
#include "repo.h"

#define DEV "6f1c0000-0000-4000-8000-000000000002"
#define GIT_ENV "env -i PATH=/usr/bin:/bin HOME=/nonexistent LC_ALL=C GIT_CONFIG_NOSYSTEM=1 " \
	"GIT_CONFIG_GLOBAL=/dev/null "

static char base[64], root[80], repo[160];
static const char *dev = DEV;   /* the device whose repository is repo */

static int setup(void **state)
{
	struct margo_error err;

	(void)state;
	strcpy(base, "/tmp/test_server_git_serve.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(root, sizeof(root), "%s/repos", base);
	snprintf(repo, sizeof(repo), "%s/%s.git", root, DEV);
	margo_error_clear(&err);
	assert_int_equal(repo_root_init(root, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd);
}

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* git upload-pack's own answer: advertise (v2 or v0), or the request req for protocol v2. */
static char *git_answer(int advertise, int v2, const char *req, size_t req_len, size_t *len)
{
	char in[200], out[200];
	FILE *f;

	snprintf(in, sizeof(in), "%s/req", base);
	snprintf(out, sizeof(out), "%s/out", base);
	f = fopen(in, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(req, 1, req_len, f), req_len);
	fclose(f);
	sh(GIT_ENV "%s git upload-pack --strict --stateless-rpc %s '%s' <'%s' >'%s' 2>/dev/null",
	   v2 ? "GIT_PROTOCOL=version=2" : "", advertise ? "--advertise-refs" : "", repo, in, out);
	return slurp(out, len);
}

/* A v2 request: command with the usual capabilities, then args (NULL-terminated). */
static size_t v2_req(char *buf, size_t size, const char *command, const char *const *args,
		     int delim)
{
	size_t n = 0;

	n += (size_t)snprintf(buf + n, size - n, "%04zxcommand=%s\n0015agent=git/2.39.5\n"
			      "0017object-format=sha1\n", strlen(command) + 13, command);
	if (delim)
		n += (size_t)snprintf(buf + n, size - n, "0001");
	for (; args != NULL && *args != NULL; args++)
		n += (size_t)snprintf(buf + n, size - n, "%04zx%s\n", strlen(*args) + 5, *args);
	n += (size_t)snprintf(buf + n, size - n, "0000");
	return n;
}

static size_t ls_refs_req(char *buf, size_t size, const char *const *args, int delim)
{
	return v2_req(buf, size, "ls-refs", args, delim);
}

static void assert_same(const char *what, const char *got, size_t got_len, const char *want,
			size_t want_len)
{
	if (got_len != want_len || memcmp(got, want, want_len) != 0)
		fail_msg("%s: wfmd's answer (%zu bytes) differs from git upload-pack's (%zu bytes):"
			 "\n%.*s\n---\n%.*s", what, got_len, want_len, (int)got_len, got,
			 (int)want_len, want);
}

static const char *const ls_variants[][6] = {
	{ NULL },
	{ "symrefs", NULL },
	{ "peel", NULL },
	{ "peel", "symrefs", "unborn", NULL },
	{ "unborn", NULL },
	{ "symrefs", "unborn", "ref-prefix HEAD", "ref-prefix refs/heads/", NULL },
	{ "ref-prefix HEAD", NULL },
	{ "ref-prefix refs/heads/", NULL },
	{ "ref-prefix refs/heads/m", "ref-prefix refs/heads/main", NULL },
	{ "ref-prefix refs/tags/", NULL },
	{ "symrefs", "ref-prefix refs/heads/main", "ref-prefix H", NULL },
	{ "peel", "symrefs", "ref-prefix refs/heads/o", "ref-prefix refs/", NULL },
	{ "ref-prefix ", NULL },
};

/* Every native answer for the repository as it is now equals git's, and is native (v0: only
 * with v0 set). */
static void compare(const char *state_name, int v0)
{
	struct margo_error err;
	char what[128], req[1024], *got, *want;
	size_t got_len, want_len, req_len;

	for (int v2 = !v0; v2 <= 1; v2++) {
		snprintf(what, sizeof(what), "%s: %s advertisement", state_name, v2 ? "v2" : "v0");
		assert_int_equal(git_serve_advertise(repo, v2, &got, &got_len, &err), 0);
		want = git_answer(1, v2, "", 0, &want_len);
		assert_same(what, got, got_len, want, want_len);
		free(got);
		free(want);
		/* The same through the repository API that api_git.c calls. */
		assert_int_equal(repo_upload_pack(root, dev, 1, v2 ? "version=2" : NULL, NULL, 0,
						  &got, &got_len, &err), 0);
		want = git_answer(1, v2, "", 0, &want_len);
		assert_same(what, got, got_len, want, want_len);
		free(got);
		free(want);
	}
	for (size_t i = 0; i < sizeof(ls_variants) / sizeof(ls_variants[0]); i++) {
		for (int delim = 0; delim <= 1; delim++) {
			if (!delim && ls_variants[i][0] != NULL)
				continue;
			req_len = ls_refs_req(req, sizeof(req), ls_variants[i], delim);
			snprintf(what, sizeof(what), "%s: ls-refs variant %zu%s", state_name, i,
				 delim ? "" : " (no delimiter)");
			if (git_serve_request(repo, 1, req, req_len, &got, &got_len, &err) != 0)
				fail_msg("%s: not answered natively", what);
			want = git_answer(0, 1, req, req_len, &want_len);
			assert_same(what, got, got_len, want, want_len);
			free(got);
			free(want);
		}
	}
}

static void test_learned(void **state)
{
	(void)state;
	/* repo_root_init probed git upload-pack and checked the native answers against it. */
	assert_true(git_serve_enabled());
}

static void test_native_repository(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN], rev2[STORE_REVISION_LEN], path[256], *a, *b;
	size_t alen, blen;
	int created = 0, changed = 0;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev, &created, &err), 0);
	assert_int_equal(created, 1);
	sh(GIT_ENV "git --git-dir='%s' fsck --strict --no-progress", repo);
	sh(GIT_ENV "test \"$(git --git-dir='%s' log --format='%%H|%%an <%%ae>|%%cn <%%ce>|%%s|%%T' "
	   "main)\" = '%s|margo-fleet WFM <wfm@margo-fleet.invalid>|margo-fleet WFM "
	   "<wfm@margo-fleet.invalid>|Initialise desired state|"
	   "4b825dc642cb6eb9a060e54bf8d69288fbee4904'", repo, rev);
	sh(GIT_ENV "test \"$(git --git-dir='%s' symbolic-ref HEAD)\" = refs/heads/main", repo);
	sh(GIT_ENV "test \"$(git --git-dir='%s' rev-parse --is-bare-repository)\" = true", repo);
	/* The config is the one git init --bare writes. */
	sh(GIT_ENV "git init -q --bare --template= -b main '%s/ref.git'", base);
	snprintf(path, sizeof(path), "%s/ref.git/config", base);
	a = slurp(path, &alen);
	snprintf(path, sizeof(path), "%s/config", repo);
	b = slurp(path, &blen);
	assert_same("config", b, blen, a, alen);
	free(a);
	free(b);
	/* No temporary directory is left next to it; one left by a crash goes at the next start. */
	sh("test \"$(ls -A '%s')\" = '%s.git'", root, DEV);
	sh("mkdir -p '%s/.new-%s.Ab12Cd/objects' '%s/.probe.Ab12Cd'", root, DEV, root);
	assert_int_equal(repo_root_init(root, &err), 0);
	sh("test \"$(ls -A '%s')\" = '%s.git'", root, DEV);
	/* Deployment commits (git plumbing) on top of the native first commit. */
	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "a: 1\n", 5,
				       "Deploy a (x)", rev2, &changed, &err), 0);
	assert_int_equal(changed, 1);
	sh(GIT_ENV "git --git-dir='%s' fsck --strict --no-progress", repo);
	sh(GIT_ENV "test \"$(git --git-dir='%s' rev-parse main^)\" = %s", repo, rev);
	sh(GIT_ENV "git clone -q '%s' '%s/clone' && test -f '%s/clone/deployments/a.yaml'", repo,
	   base, base);
	/* Exists now: found by reading refs, not created again. */
	assert_int_equal(repo_ensure(root, DEV, rev, &created, &err), 0);
	assert_int_equal(created, 0);
	assert_string_equal(rev, rev2);
}

struct racer {
	char rev[STORE_REVISION_LEN];
	int created, rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct margo_error err;

	r->rc = repo_ensure(root, DEV, r->rev, &r->created, &err);
	return NULL;
}

/* Requests for the same new device at once: one repository, created once, the same
 * revision for all, no temporary directory left. */
static void test_concurrent_create(void **state)
{
	struct racer r[4];
	pthread_t t[4];
	int created = 0;

	(void)state;
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r[i].rc, 0);
		assert_string_equal(r[i].rev, r[0].rev);
		created += r[i].created;
	}
	assert_int_equal(created, 1);
	sh("test \"$(ls -A '%s')\" = '%s.git'", root, DEV);
	sh(GIT_ENV "git --git-dir='%s' fsck --strict --no-progress", repo);
}

static void test_answers_match_git(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN], *got, *want;
	size_t got_len, want_len;
	int changed;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev, NULL, &err), 0);
	compare("created", 1);
	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "a: 1\n", 5,
				       "Deploy a (x)", rev, &changed, &err), 0);
	assert_int_equal(repo_put_file(root, DEV, "deployments/b.yaml", "b: 1\n", 5,
				       "Deploy b (y)", rev, &changed, &err), 0);
	compare("deployed", 1);
	assert_int_equal(repo_remove_file(root, DEV, "deployments/a.yaml", "Undeploy a", rev,
					  &err), 0);
	compare("undeployed", 1);
	/* git gc packs references: packed-refs only, then a loose one newer than the packed. */
	sh(GIT_ENV "git --git-dir='%s' pack-refs --all", repo);
	sh("test ! -e '%s/refs/heads/main'", repo);
	compare("packed", 1);
	assert_int_equal(repo_put_file(root, DEV, "deployments/c.yaml", "c: 1\n", 5,
				       "Deploy c (z)", rev, &changed, &err), 0);
	sh("test -e '%s/refs/heads/main'", repo);
	compare("loose over packed", 1);
	/* A new repository keeps main in packed-refs only. */
	assert_int_equal(repo_ensure(root, "6f1c0000-0000-4000-8000-000000000003", rev, NULL,
				     &err), 0);
	sh("test ! -e '%s/6f1c0000-0000-4000-8000-000000000003.git/refs/heads/main'", root);
	dev = "6f1c0000-0000-4000-8000-000000000003";
	snprintf(repo, sizeof(repo), "%s/%s.git", root, dev);
	compare("new repository", 1);
	dev = DEV;
	snprintf(repo, sizeof(repo), "%s/%s.git", root, dev);
	/* More branches, loose and packed, nested. */
	sh(GIT_ENV "git --git-dir='%s' update-ref refs/heads/other main~1 && "
	   "git --git-dir='%s' update-ref refs/heads/a/b main~2", repo, repo);
	compare("branches", 1);
	/* HEAD pointing to a branch that does not exist (unborn). */
	sh(GIT_ENV "git --git-dir='%s' symbolic-ref HEAD refs/heads/none", repo);
	compare("unborn HEAD", 1);
	sh(GIT_ENV "git --git-dir='%s' update-ref -d refs/heads/other && "
	   "git --git-dir='%s' update-ref -d refs/heads/a/b && "
	   "git --git-dir='%s' update-ref -d refs/heads/main", repo, repo, repo);
	compare("no references", 0);
	assert_int_equal(git_serve_advertise(repo, 0, &got, &got_len, &err), GIT_SERVE_DECLINED);
	assert_int_equal(repo_upload_pack(root, DEV, 1, NULL, NULL, 0, &got, &got_len, &err), 0);
	want = git_answer(1, 0, "", 0, &want_len);
	assert_same("no references: v0 through git", got, got_len, want, want_len);
	free(got);
	free(want);
}

static void test_declined(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN], req[512], *got, *want;
	size_t got_len, want_len, req_len;
	const char *const ls[] = { "peel", "symrefs", NULL };

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev, NULL, &err), 0);
	/* An annotated tag would need peeling: git answers, identically through repo.c. */
	sh(GIT_ENV "git --git-dir='%s' -c user.name=t -c user.email=t@t tag -a -m t v1 main", repo);
	assert_int_equal(git_serve_advertise(repo, 0, &got, &got_len, &err), GIT_SERVE_DECLINED);
	req_len = ls_refs_req(req, sizeof(req), ls, 1);
	assert_int_equal(git_serve_request(repo, 1, req, req_len, &got, &got_len, &err),
			 GIT_SERVE_DECLINED);
	assert_int_equal(repo_upload_pack(root, DEV, 0, "version=2", req, req_len, &got,
					  &got_len, &err), 0);
	want = git_answer(0, 1, req, req_len, &want_len);
	assert_same("tagged ls-refs through git", got, got_len, want, want_len);
	assert_non_null(memmem(got, got_len, "peeled:", 7));
	free(got);
	free(want);
	sh(GIT_ENV "git --git-dir='%s' tag -d v1 >/dev/null", repo);

	/* Requests that are not a plain ls-refs go to git. */
	{
		static const char *const bad[] = {
			"0014command=ls-refs\n0015agent=git/2.39.5\n0019object-format=sha256\n0000",
			"0014command=ls-refs\n0012command=fetch\n0000",
			"0014command=ls-refs\n00010009peel\n0009bogus\n0000",
			"0014command=ls-refs\n00010009peel\n",
			"0014command=ls-refs\n0000trailing",
			"0012command=fetch\n00010009done\n0000",
			"0000",
			"",
			"zzzz",
			"0014command=ls-refs\n0010ERR failure0000",
			"0003",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(git_serve_request(repo, 1, bad[i], strlen(bad[i]), &got,
							   &got_len, &err), GIT_SERVE_DECLINED);
	}
	/* A detached HEAD. */
	sh(GIT_ENV "git --git-dir='%s' update-ref --no-deref HEAD main", repo);
	assert_int_equal(git_serve_advertise(repo, 1, &got, &got_len, &err), GIT_SERVE_DECLINED);
}

/* Writes the pack of a fetch answer to path: after the first pkt-line (first: v2 "packfile",
 * v0 "NAK"), side-band 1 packets up to a flush, or (sideband 0) the bare pack. */
static void answer_pack(const char *answer, size_t len, const char *first, int sideband,
			const char *path)
{
	FILE *f = fopen(path, "wb");
	size_t off = strlen(first) + 4, n;

	assert_non_null(f);
	assert_true(len > off);
	assert_int_equal(memcmp(answer + 4, first, strlen(first)), 0);
	if (!sideband) {
		assert_int_equal(fwrite(answer + off, 1, len - off, f), len - off);
		off = len - 4;
	}
	while (sideband && off + 4 <= len) {
		assert_int_equal(sscanf(answer + off, "%4zx", &n), 1);
		if (n == 0)
			break;
		if (answer[off + 4] == 1)
			assert_int_equal(fwrite(answer + off + 5, 1, n - 5, f), n - 5);
		off += n;
	}
	assert_int_equal(off + 4, len);
	fclose(f);
}

/* The pack at path holds exactly the commit rev of repo and the empty tree, complete. */
static void assert_initial_pack(const char *path, const char *rev)
{
	sh("rm -rf '%s/got.git'", base);
	sh(GIT_ENV "git init -q --bare -b main '%s/got.git' && git --git-dir='%s/got.git' "
	   "index-pack --strict --stdin <'%s' >/dev/null", base, base, path);
	sh(GIT_ENV "git --git-dir='%s/got.git' update-ref refs/heads/main %s && "
	   "git --git-dir='%s/got.git' fsck --strict --no-progress --no-dangling", base, rev, base);
	sh(GIT_ENV "test \"$(git --git-dir='%s/got.git' cat-file -p %s)\" = "
	   "\"$(git --git-dir='%s' cat-file -p %s)\"", base, rev, repo, rev);
	sh(GIT_ENV "test \"$(git --git-dir='%s/got.git' count-objects -v | grep in-pack)\" = "
	   "'in-pack: 2'", base);
}

/* The first fetch of a new repository (main at the initial commit) is answered without git:
 * a pack that git index-pack accepts, holding the commit and the empty tree, complete for
 * git fsck. After a deployment, fetches go to git. */
static void test_initial_fetch(void **state)
{
	struct margo_error err;
	char rev[STORE_REVISION_LEN], req[1024], want[80], pack[200], *got;
	size_t got_len, req_len;
	int changed;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev, NULL, &err), 0);
	snprintf(want, sizeof(want), "want %s", rev);
	{
		const char *const args[] = { "thin-pack", "no-progress", "ofs-delta", want, want,
					     "include-tag", "done", NULL };
		req_len = v2_req(req, sizeof(req), "fetch", args, 1);
	}
	assert_int_equal(git_serve_request(repo, 1, req, req_len, &got, &got_len, &err), 0);
	snprintf(pack, sizeof(pack), "%s/initial.pack", base);
	answer_pack(got, got_len, "packfile\n", 1, pack);
	free(got);
	assert_initial_pack(pack, rev);
	/* git upload-pack answers the request with the same framing and the same objects. */
	{
		size_t want_len;
		char *w = git_answer(0, 1, req, req_len, &want_len);
		answer_pack(w, want_len, "packfile\n", 1, pack);
		free(w);
		assert_initial_pack(pack, rev);
	}
	/* Protocol v0 (libgit2, git with protocol.version=0): side-band-64k, side-band, none. */
	{
		static const char *const caps[] = {
			" multi_ack_detailed side-band-64k thin-pack ofs-delta include-tag "
			"agent=git/2.0.0-libgit2",
			" multi_ack side-band ofs-delta no-progress",
			"",
		};
		for (int i = 0; i < 3; i++) {
			char line[256], *w;
			size_t w_len;

			snprintf(line, sizeof(line), "want %s%s\n", rev, caps[i]);
			req_len = (size_t)snprintf(req, sizeof(req), "%04zx%s%04zxwant %s\n0000"
						   "0009done\n", strlen(line) + 4, line,
						   strlen(rev) + 10, rev);
			assert_int_equal(git_serve_request(repo, 0, req, req_len, &got, &got_len,
							   &err), 0);
			answer_pack(got, got_len, "NAK\n", i < 2, pack);
			free(got);
			assert_initial_pack(pack, rev);
			w = git_answer(0, 0, req, req_len, &w_len);
			answer_pack(w, w_len, "NAK\n", i < 2, pack);
			free(w);
			assert_initial_pack(pack, rev);
			/* Through repo.c, as api_git.c calls it. */
			assert_int_equal(repo_upload_pack(root, DEV, 0, NULL, req, req_len, &got,
							  &got_len, &err), 0);
			answer_pack(got, got_len, "NAK\n", i < 2, pack);
			free(got);
		}
		/* A "have" means negotiation: git. */
		snprintf(req, sizeof(req), "0032want %s\n00000032have %s\n0009done\n", rev, rev);
		assert_int_equal(git_serve_request(repo, 0, req, strlen(req), &got, &got_len,
						   &err), GIT_SERVE_DECLINED);
	}
	/* Another want, or a commit with a parent: git. */
	assert_int_equal(repo_put_file(root, DEV, "deployments/a.yaml", "a: 1\n", 5,
				       "Deploy a (x)", rev, &changed, &err), 0);
	assert_int_equal(git_serve_request(repo, 1, req, req_len, &got, &got_len, &err),
			 GIT_SERVE_DECLINED);
	memcpy(strstr(req, "want ") + 5, rev, 40);
	assert_int_equal(git_serve_request(repo, 1, req, req_len, &got, &got_len, &err),
			 GIT_SERVE_DECLINED);
}

/* Mutated requests (bytes changed, truncated): never a crash; whatever is answered natively
 * is what git answers. */
static void test_request_mutations(void **state)
{
	const char *const args[] = { "peel", "symrefs", "unborn", "ref-prefix HEAD",
				     "ref-prefix refs/heads/", NULL };
	struct margo_error err;
	char rev[STORE_REVISION_LEN], req[512], mut[512], *got, *want;
	size_t req_len, len, got_len, want_len;
	int answered = 0, compared = 0;

	(void)state;
	assert_int_equal(repo_ensure(root, DEV, rev, NULL, &err), 0);
	req_len = ls_refs_req(req, sizeof(req), args, 1);
	srand(5);
	for (int i = 0; i < 3000; i++) {
		memcpy(mut, req, req_len);
		len = req_len;
		for (int k = 0; k <= i % 3; k++)
			mut[rand() % (int)len] = (char)(i % 7 == 0 ? rand() % 256 :
							 "0123456789abcdefAF\n"[rand() % 19]);
		if (i % 5 == 0)
			len = (size_t)(rand() % (int)len);
		if (git_serve_request(repo, 1, mut, len, &got, &got_len, &err) != 0)
			continue;
		answered++;
		if (compared < 25) {
			want = git_answer(0, 1, mut, len, &want_len);
			assert_same("mutated ls-refs", got, got_len, want, want_len);
			free(want);
			compared++;
		}
		free(got);
	}
	print_message("%d of 3000 mutations answered natively, %d compared with git\n", answered, compared);
	assert_true(compared > 0);
}

static void test_refs_read(void **state)
{
	struct margo_error err;
	struct git_refs refs;
	char rev[STORE_REVISION_LEN], path[256];
	FILE *f;

	(void)state;
	assert_int_equal(git_refs_read(repo, &refs, &err), MARGO_ENOTFOUND);
	git_refs_free(&refs);
	assert_int_equal(repo_ensure(root, DEV, rev, NULL, &err), 0);
	/* A lock file of an update in progress is not a reference. */
	sh("mkdir -p '%s/refs/heads'", repo);
	snprintf(path, sizeof(path), "%s/refs/heads/main.lock", repo);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("0123", f);
	fclose(f);
	assert_int_equal(git_refs_read(repo, &refs, &err), 0);
	assert_int_equal(refs.n, 1);
	assert_string_equal(refs.refs[0].name, "refs/heads/main");
	assert_string_equal(refs.refs[0].oid, rev);
	assert_string_equal(refs.head_target, "refs/heads/main");
	assert_string_equal(refs.head_oid, rev);
	git_refs_free(&refs);
	/* A garbled loose reference is declined, not guessed. */
	snprintf(path, sizeof(path), "%s/refs/heads/bad", repo);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not an id\n", f);
	fclose(f);
	assert_int_equal(git_refs_read(repo, &refs, &err), MARGO_EUNSUPPORTED);
	git_refs_free(&refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_native_repository, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers_match_git, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_mutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refs_read, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
