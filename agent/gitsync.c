#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/x509v3.h>

#include "gitsync.h"
#include "margo/cert.h"
#include "margo/token.h"

#define DEPLOY_DIR "deployments"
#define DEPLOY_FILE_MAX (1024 * 1024)

/* child exit codes */
enum { SYNC_OK = 0, SYNC_FAIL = 1, SYNC_AUTH = 3, SYNC_CERT = 4 };

struct sync_ctx {
	const struct agent_git_remote *remote;
	X509 *ca;
	int auth_calls;
	int cert_failed;
};

/* libgit2 is loaded when a git operation is needed, not at start: the no-change poll never
 * needs it, and linking it would map libgit2, mbedTLS, http-parser and PCRE2 into every run
 * (1.8 MB of peak RSS measured). The soname comes from the build (agent/CMakeLists.txt). */
#define LIBGIT2_FUNCS(X) \
	X(git_libgit2_init) X(git_error_last) X(git_credential_userpass_plaintext_new) \
	X(git_clone_options_init) X(git_fetch_options_init) X(git_clone) \
	X(git_repository_open_bare) X(git_repository_free) X(git_remote_lookup) \
	X(git_remote_url) X(git_remote_set_url) X(git_remote_fetch) X(git_remote_free) \
	X(git_oid_fromstr) X(git_commit_lookup) X(git_commit_tree) X(git_commit_free) \
	X(git_tree_lookup) X(git_tree_free) X(git_tree_entry_bypath) X(git_tree_entry_byindex) \
	X(git_tree_entrycount) X(git_tree_entry_type) X(git_tree_entry_id) \
	X(git_tree_entry_name) X(git_tree_entry_free) X(git_blob_lookup) X(git_blob_rawsize) \
	X(git_blob_rawcontent) X(git_blob_free)

static struct {
#define LIBGIT2_MEMBER(f) __typeof__(f) *f;
	LIBGIT2_FUNCS(LIBGIT2_MEMBER)
#undef LIBGIT2_MEMBER
} lg;

/* Loads and initialises libgit2 once per process. */
static int libgit2_load(struct margo_error *err)
{
	static void *handle;
	void *h;
	const char *missing = NULL;

	if (handle != NULL)
		return MARGO_OK;
	h = dlopen(AGENT_LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "cannot load %s: %s",
				       AGENT_LIBGIT2_SONAME, dlerror());
#define LIBGIT2_SYM(f) \
	if (missing == NULL && (*(void **)&lg.f = dlsym(h, #f)) == NULL) \
		missing = #f;
	LIBGIT2_FUNCS(LIBGIT2_SYM)
#undef LIBGIT2_SYM
	if (missing != NULL) {
		dlclose(h);
		memset(&lg, 0, sizeof(lg));
		return margo_error_set(err, MARGO_EUNSUPPORTED, "%s lacks %s", AGENT_LIBGIT2_SONAME,
				       missing);
	}
	if (lg.git_libgit2_init() < 0) {
		dlclose(h);
		memset(&lg, 0, sizeof(lg));
		return margo_error_set(err, MARGO_EUNSUPPORTED, "cannot initialise libgit2");
	}
	handle = h;
	return MARGO_OK;
}

static int check_cert(git_cert *cert, int valid, const char *host, void *payload)
{
	struct sync_ctx *c = payload;
	const git_cert_x509 *x = (const git_cert_x509 *)cert;
	const unsigned char *p;
	unsigned char addr[16];
	X509 *leaf = NULL;
	int ok = 0;

	(void)valid; /* libgit2's own verdict uses stores we do not trust */
	if (cert->cert_type != GIT_CERT_X509 || x->data == NULL) {
		c->cert_failed = 1;
		return GIT_ECERTIFICATE;
	}
	p = x->data;
	leaf = d2i_X509(NULL, &p, (long)x->len);
	if (leaf != NULL && margo_cert_verify_issued_by(leaf, c->ca, NULL) == 0) {
		if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
			ok = X509_check_ip_asc(leaf, host, 0) == 1;
		else
			ok = X509_check_host(leaf, host, 0, 0, NULL) == 1;
	}
	X509_free(leaf);
	if (!ok) {
		c->cert_failed = 1;
		return GIT_ECERTIFICATE;
	}
	return 0;
}

static int credentials(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct sync_ctx *c = payload;

	(void)url;
	(void)user_from_url;
	/* a second request for credentials means the token was refused */
	if (c->auth_calls++ > 0 || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_EUSER;
	return lg.git_credential_userpass_plaintext_new(out, c->remote->username, c->remote->token);
}

static void fetch_options(git_fetch_options *fo, struct sync_ctx *c)
{
	fo->callbacks.certificate_check = check_cert;
	fo->callbacks.credentials = credentials;
	fo->callbacks.payload = c;
	fo->prune = GIT_FETCH_PRUNE;
	if (c->remote->proxy != NULL) {
		fo->proxy_opts.type = GIT_PROXY_SPECIFIED;
		fo->proxy_opts.url = c->remote->proxy;
	} else {
		fo->proxy_opts.type = GIT_PROXY_NONE;
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The child's work: returns a SYNC_ code, message in msg. */
static int sync_child(const char *dir, const struct agent_git_remote *remote, char *msg,
		      size_t msgsize)
{
	git_clone_options co;
	git_fetch_options fo;
	struct sync_ctx c = { .remote = remote };
	git_repository *repo = NULL;
	git_remote *origin = NULL;
	const git_error *ge;
	struct margo_error e;
	int rc;

	if (libgit2_load(&e) != 0) {
		snprintf(msg, msgsize, "%s", e.message);
		return SYNC_FAIL;
	}
	if (margo_cert_from_pem(remote->ca_pem, strlen(remote->ca_pem), &c.ca, NULL) != 0) {
		snprintf(msg, msgsize, "cannot parse the pinned CA");
		return SYNC_FAIL;
	}
	lg.git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	lg.git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	rc = lg.git_repository_open_bare(&repo, dir);
	if (rc == 0) {
		rc = lg.git_remote_lookup(&origin, repo, "origin");
		if (rc == 0 && strcmp(lg.git_remote_url(origin), remote->url) != 0) {
			lg.git_remote_free(origin);
			origin = NULL;
			rc = lg.git_remote_set_url(repo, "origin", remote->url);
			if (rc == 0)
				rc = lg.git_remote_lookup(&origin, repo, "origin");
		}
		if (rc == 0) {
			fetch_options(&fo, &c);
			rc = lg.git_remote_fetch(origin, NULL, &fo, "fetch");
		}
	} else {
		/* no clone yet, or an unusable one (e.g. killed mid-clone): start over */
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		co.bare = 1;
		fetch_options(&co.fetch_opts, &c);
		rc = lg.git_clone(&repo, remote->url, dir, &co);
	}
	if (rc != 0 && c.auth_calls > 1) {
		snprintf(msg, msgsize, "the server refused the git token");
	} else if (rc != 0) {
		ge = lg.git_error_last();
		snprintf(msg, msgsize, "%s", ge != NULL && ge->message != NULL ? ge->message
									: "git operation failed");
	}
	lg.git_remote_free(origin);
	lg.git_repository_free(repo);
	X509_free(c.ca);
	if (rc == 0)
		return SYNC_OK;
	if (c.cert_failed)
		return SYNC_CERT;
	if (c.auth_calls > 1 || rc == GIT_EAUTH)
		return SYNC_AUTH;
	return SYNC_FAIL;
}

int agent_git_sync(const char *dir, const struct agent_git_remote *remote,
		   struct margo_error *err)
{
	int timeout = remote->timeout_s > 0 ? remote->timeout_s : AGENT_GIT_TIMEOUT_S;
	char msg[MARGO_ERROR_MSG_MAX] = "";
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int fds[2], status = 0, waited = 0;
	time_t deadline;
	ssize_t n;
	pid_t pid;

	if (remote->url == NULL || remote->username == NULL || remote->token == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no git credentials");
	if (pipe(fds) != 0)
		return margo_error_set(err, MARGO_EIO, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return margo_error_set(err, MARGO_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		sigset_t none;
		int code;

		close(fds[0]);
		/* never outlive the agent: the child shares its state directory lock */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(SYNC_FAIL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		alarm((unsigned)timeout + 5);
		code = sync_child(dir, remote, msg, sizeof(msg));
		if (write(fds[1], msg, strlen(msg)) < 0)
			code = SYNC_FAIL;
		_exit(code);
	}
	close(fds[1]);
	deadline = time(NULL) + timeout;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			waited = 1;
			break;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (time(NULL) >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(fds[0]);
			return margo_error_set(err, MARGO_ENET, "git fetch from %s timed out after %d s",
					       remote->url, timeout);
		}
		nanosleep(&ts, NULL);
	}
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	if (!waited || !WIFEXITED(status))
		return margo_error_set(err, MARGO_ENET, "git fetch from %s did not finish", remote->url);
	switch (WEXITSTATUS(status)) {
	case SYNC_OK:
		return MARGO_OK;
	case SYNC_AUTH:
		return margo_error_set(err, MARGO_EAUTH, "git: credentials refused: %s", msg);
	case SYNC_CERT:
		return margo_error_set(err, MARGO_ENET,
				       "git: the server does not verify against the pinned CA: %s", msg);
	default:
		return margo_error_set(err, MARGO_ENET, "git: %s", msg[0] != '\0' ? msg : "failed");
	}
}

int agent_git_read_deployments(const char *dir, const char *revision, json_t **out,
			       struct margo_error *err)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	json_t *files;
	git_oid oid;
	int rc;

	rc = libgit2_load(err);
	if (rc != 0)
		return rc;
	files = json_object();
	if (files == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (lg.git_oid_fromstr(&oid, revision) != 0) {
		rc = margo_error_set(err, MARGO_EPROTO, "bad revision '%.64s'", revision);
		goto out;
	}
	if (lg.git_repository_open_bare(&repo, dir) != 0 ||
	    lg.git_commit_lookup(&commit, repo, &oid) != 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "commit %.12s is not in the clone", revision);
		goto out;
	}
	if (lg.git_commit_tree(&tree, commit) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot read the tree of %.12s", revision);
		goto out;
	}
	if (lg.git_tree_entry_bypath(&entry, tree, DEPLOY_DIR) != 0)
		goto out; /* no deployments at all */
	if (lg.git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
	    lg.git_tree_lookup(&sub, repo, lg.git_tree_entry_id(entry)) != 0)
		goto out;
	for (size_t i = 0; i < lg.git_tree_entrycount(sub); i++) {
		const git_tree_entry *e = lg.git_tree_entry_byindex(sub, i);
		const char *name = lg.git_tree_entry_name(e);
		size_t len = strlen(name);
		char id[256], hash[MARGO_TOKEN_HASH_LEN], *content;
		git_blob *blob = NULL;
		git_object_size_t size;

		if (lg.git_tree_entry_type(e) != GIT_OBJECT_BLOB || len <= 5 || len - 5 >= sizeof(id) ||
		    strcmp(name + len - 5, ".yaml") != 0)
			continue;
		memcpy(id, name, len - 5);
		id[len - 5] = '\0';
		if (lg.git_blob_lookup(&blob, repo, lg.git_tree_entry_id(e)) != 0)
			continue;
		size = lg.git_blob_rawsize(blob);
		if (size > DEPLOY_FILE_MAX || (content = malloc((size_t)size + 1)) == NULL) {
			lg.git_blob_free(blob);
			continue;
		}
		memcpy(content, lg.git_blob_rawcontent(blob), (size_t)size);
		content[size] = '\0';
		lg.git_blob_free(blob);
		if (strlen(content) != (size_t)size) { /* NUL in a YAML file: not one of ours */
			free(content);
			continue;
		}
		margo_token_hash(content, hash);
		json_object_set_new(files, id, json_pack("{s:s, s:s}", "hash", hash, "content", content));
		free(content);
	}
out:
	lg.git_tree_free(sub);
	lg.git_tree_entry_free(entry);
	lg.git_tree_free(tree);
	lg.git_commit_free(commit);
	lg.git_repository_free(repo);
	if (rc == 0)
		*out = files;
	else
		json_decref(files);
	return rc;
}
