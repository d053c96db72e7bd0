#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "margo/file.h"
#include "margo/log.h"
#include "margo/token.h"
#include "git_object.h"
#include "git_refs.h"
#include "repo.h"

#define SMALL_OUT_MAX (64u * 1024u)
#define STDERR_KEEP 512
#define ZERO_OID "0000000000000000000000000000000000000000"
/* What `git init --bare` writes on Linux (filemode: chmod works on the data dir's file system). */
#define REPO_CONFIG "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
#define REPO_IDENT REPO_AUTHOR_NAME " <" REPO_AUTHOR_EMAIL ">"

/* Repository writes are rare (operator actions): one lock for all keeps them serialised. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static repo_commit_hook_fn commit_hook;
static void *commit_hook_ctx;

void repo_set_commit_hook(repo_commit_hook_fn fn, void *ctx)
{
	commit_hook = fn;
	commit_hook_ctx = ctx;
}

struct git_run {
	const char *git_dir;            /* GIT_DIR */
	const char *index_file;         /* GIT_INDEX_FILE or NULL */
	const char *protocol;           /* GIT_PROTOCOL or NULL */
	const void *input;
	size_t input_len;
	size_t out_max;
	char *out;                      /* newly allocated, NUL-terminated */
	size_t out_len;
	char err_tail[STDERR_KEEP + 1];
	int status;                     /* exit status, -1 when killed */
	int client_input;               /* failures come from what a client sent: debug log */
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Runs git with args (argv[0] must be "git"), a minimal environment, stdin from r->input,
 * stdout into r->out (at most r->out_max bytes), the tail of stderr kept. 0 when it ran and
 * exited 0; MARGO_EIO otherwise (r->status tells). */
static int git_run(const char *const *args, struct git_run *r, struct margo_error *err)
{
	char *envp[16];
	size_t ne = 0;
	char e_dir[4200], e_index[4200], e_proto[160], e_path[1024];
	const char *path = getenv("PATH");
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	int fa_ok = 0, rc, wstatus = 0, killed = 0;
	pid_t pid = -1;
	size_t written = 0, cap = 0, errn = 0;
	char buf[16384];
	struct timespec start, now;

	r->out = NULL;
	r->out_len = 0;
	r->err_tail[0] = '\0';
	r->status = -1;
	snprintf(e_path, sizeof(e_path), "PATH=%s", path != NULL ? path : "/usr/bin:/bin");
	envp[ne++] = e_path;
	envp[ne++] = "HOME=/nonexistent";
	envp[ne++] = "LC_ALL=C";
	envp[ne++] = "GIT_CONFIG_NOSYSTEM=1";
	envp[ne++] = "GIT_CONFIG_GLOBAL=/dev/null";
	envp[ne++] = "GIT_TERMINAL_PROMPT=0";
	envp[ne++] = "GIT_AUTHOR_NAME=" REPO_AUTHOR_NAME;
	envp[ne++] = "GIT_AUTHOR_EMAIL=" REPO_AUTHOR_EMAIL;
	envp[ne++] = "GIT_COMMITTER_NAME=" REPO_AUTHOR_NAME;
	envp[ne++] = "GIT_COMMITTER_EMAIL=" REPO_AUTHOR_EMAIL;
	if (r->git_dir != NULL) {
		snprintf(e_dir, sizeof(e_dir), "GIT_DIR=%s", r->git_dir);
		envp[ne++] = e_dir;
	}
	if (r->index_file != NULL) {
		snprintf(e_index, sizeof(e_index), "GIT_INDEX_FILE=%s", r->index_file);
		envp[ne++] = e_index;
	}
	if (r->protocol != NULL) {
		snprintf(e_proto, sizeof(e_proto), "GIT_PROTOCOL=%s", r->protocol);
		envp[ne++] = e_proto;
	}
	envp[ne] = NULL;

	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 ||
	    pipe2(err_pipe, O_CLOEXEC) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	fa_ok = 1;
	if (posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2) != 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)args, envp);
	if (rc != 0) {
		pid = -1;
		rc = margo_error_set(err, MARGO_EIO, "cannot run git: %s", strerror(rc));
		goto out;
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
	if (r->input == NULL || r->input_len == 0) {
		close(in_pipe[1]);
		in_pipe[1] = -1;
	} else {
		set_nonblock(in_pipe[1]);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	rc = 0;
	while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
		struct pollfd pf[3];
		int np = 0, iout = -1, ierr = -1, iin = -1, left_ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = REPO_GIT_TIMEOUT * 1000 - (int)((now.tv_sec - start.tv_sec) * 1000 +
							   (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			rc = margo_error_set(err, MARGO_EIO, "git %s timed out", args[1]);
			break;
		}
		if (out_pipe[0] >= 0) {
			pf[np] = (struct pollfd){ .fd = out_pipe[0], .events = POLLIN };
			iout = np++;
		}
		if (err_pipe[0] >= 0) {
			pf[np] = (struct pollfd){ .fd = err_pipe[0], .events = POLLIN };
			ierr = np++;
		}
		if (in_pipe[1] >= 0) {
			pf[np] = (struct pollfd){ .fd = in_pipe[1], .events = POLLOUT };
			iin = np++;
		}
		if (poll(pf, (nfds_t)np, left_ms) < 0) {
			if (errno == EINTR)
				continue;
			rc = margo_error_set(err, MARGO_EIO, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (iin >= 0 && (pf[iin].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in_pipe[1], (const char *)r->input + written,
					  r->input_len - written);
			if (w > 0)
				written += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    written == r->input_len) {
				close(in_pipe[1]);
				in_pipe[1] = -1;
			}
		}
		if (iout >= 0 && (pf[iout].revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = read(out_pipe[0], buf, sizeof(buf));
			if (n > 0) {
				if (r->out_len + (size_t)n > r->out_max) {
					kill(pid, SIGKILL);
					killed = 1;
					rc = margo_error_set(err, MARGO_ETOOBIG, "git output too large");
					break;
				}
				if (r->out_len + (size_t)n + 1 > cap) {
					size_t ncap = cap ? cap : 8192;
					char *nb;
					while (ncap < r->out_len + (size_t)n + 1)
						ncap *= 2;
					nb = realloc(r->out, ncap);
					if (nb == NULL) {
						kill(pid, SIGKILL);
						killed = 1;
						rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
						break;
					}
					r->out = nb;
					cap = ncap;
				}
				memcpy(r->out + r->out_len, buf, (size_t)n);
				r->out_len += (size_t)n;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(out_pipe[0]);
				out_pipe[0] = -1;
			}
		}
		if (ierr >= 0 && (pf[ierr].revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = read(err_pipe[0], buf, sizeof(buf));
			if (n > 0) {
				/* Keep the tail of stderr for the log. */
				size_t k = (size_t)n > STDERR_KEEP ? STDERR_KEEP : (size_t)n;
				const char *src = buf + (size_t)n - k;
				if (errn + k > STDERR_KEEP) {
					size_t drop = errn + k - STDERR_KEEP;
					memmove(r->err_tail, r->err_tail + drop, errn - drop);
					errn -= drop;
				}
				memcpy(r->err_tail + errn, src, k);
				errn += k;
				r->err_tail[errn] = '\0';
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(err_pipe[0]);
				err_pipe[0] = -1;
			}
		}
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (rc == 0) {
		r->status = killed ? -1 : WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
		if (r->status != 0) {
			for (char *p = r->err_tail; *p != '\0'; p++)
				if (*p == '\n' || *p == '"')
					*p = ' ';
			/* err == NULL: the caller expects failures (a probe), no warning. */
			if (err != NULL)
				margo_log(r->client_input ? MARGO_LOG_DEBUG : MARGO_LOG_WARN,
					  "git failed", "cmd=%s status=%d stderr=\"%s\"",
					  args[1], r->status, r->err_tail);
			rc = margo_error_set(err, MARGO_EIO, "git %s failed", args[1]);
		}
	}
	if (rc == 0 && r->out == NULL) {
		r->out = calloc(1, 1);
		if (r->out == NULL)
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	} else if (r->out != NULL) {
		r->out[r->out_len] = '\0';
	}
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
	}
	if (rc < 0) {
		free(r->out);
		r->out = NULL;
		r->out_len = 0;
	}
	return rc;
}

/* Runs a small git command and copies its first output line (an object id) into oid. */
static int git_oid(const char *const *args, const char *git_dir, const char *index,
		   const void *input, size_t input_len, char oid[STORE_REVISION_LEN],
		   struct margo_error *err)
{
	struct git_run r;
	size_t n;
	int rc;

	memset(&r, 0, sizeof(r));
	r.git_dir = git_dir;
	r.index_file = index;
	r.input = input;
	r.input_len = input_len;
	r.out_max = SMALL_OUT_MAX;
	if ((rc = git_run(args, &r, err)) < 0)
		return rc;
	n = strspn(r.out, "0123456789abcdef");
	if (n != 40 && n != 64) {
		free(r.out);
		return margo_error_set(err, MARGO_EIO, "git %s printed no object id", args[1]);
	}
	memcpy(oid, r.out, n);
	oid[n] = '\0';
	free(r.out);
	return 0;
}

static int git_simple(const char *const *args, const char *git_dir, const char *index,
		      struct margo_error *err)
{
	struct git_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.git_dir = git_dir;
	r.index_file = index;
	r.out_max = SMALL_OUT_MAX;
	rc = git_run(args, &r, err);
	free(r.out);
	return rc;
}

static int repo_path(const char *root, const char *device_id, char *out, size_t size,
		     struct margo_error *err)
{
	/* The id is the only part taken from outside, and only a UUID passes. */
	if (!margo_uuid_valid(device_id))
		return margo_error_set(err, MARGO_EINVAL, "not a device id");
	if ((size_t)snprintf(out, size, "%s/%s.git", root, device_id) >= size)
		return margo_error_set(err, MARGO_EINVAL, "path too long");
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf of a directory wfmd made (no symbolic links followed). */
static void remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		margo_log_warn("cannot remove directory", "path=%s error=\"%s\"", path,
			       strerror(errno));
}

/* Creates path (mode 0666 before the umask, as git does) with data, fsync()ed when sync. */
static int file_create(const char *dir, const char *name, const char *data, int sync,
		       struct margo_error *err)
{
	char path[4300];
	size_t len = strlen(data), off = 0;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return margo_error_set(err, MARGO_EIO, "%s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = margo_error_set(err, MARGO_EIO, "write %s: %s", path, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && sync && fsync(fd) < 0)
		rc = margo_error_set(err, MARGO_EIO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Writes a new bare repository into the empty directory dir, as `git init --bare
 * --template= -b main` followed by the first commit (an empty tree, REPO_INIT_MESSAGE) and
 * `update-ref refs/heads/main` would, without running git: HEAD, config, the two loose
 * objects and main in packed-refs (git reads it like a loose ref; the first deployment's
 * update-ref writes the loose one). Only what git needs is made: objects/info, objects/pack,
 * refs/heads and refs/tags are created by git when it writes there (each directory and each
 * fsync counts when thousands of devices onboard). rev gets the commit id. With sync every
 * file and directory is fsync()ed, so a rename of dir publishes a complete repository. */
static int repo_build(const char *dir, int sync, char rev[STORE_REVISION_LEN],
		      struct margo_error *err)
{
	static const char *const dirs[] = { "objects", "refs" };
	/* Parents after their children's entries exist (the objects' fan-out directories are
	 * fsync()ed by git_object_write). */
	static const char *const sync_dirs[] = { "refs", "objects", "." };
	char path[4300], objects[4300], tree[STORE_REVISION_LEN], commit[512], packed[128];
	time_t now = time(NULL);
	struct tm tm;
	long off;
	int rc, n;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		if (mkdir(path, 0777) < 0)
			return margo_error_set(err, MARGO_EIO, "mkdir %s: %s", path, strerror(errno));
	}
	if ((rc = file_create(dir, "HEAD", "ref: refs/heads/" REPO_BRANCH "\n", sync, err)) < 0 ||
	    (rc = file_create(dir, "config", REPO_CONFIG, sync, err)) < 0)
		return rc;
	snprintf(objects, sizeof(objects), "%s/objects", dir);
	if ((rc = git_object_write(objects, "tree", "", 0, sync, tree, err)) < 0)
		return rc;
	/* The local time zone, as git commit-tree records it. */
	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	n = snprintf(commit, sizeof(commit), "tree %s\nauthor " REPO_IDENT " %lld %c%02ld%02ld\n"
		     "committer " REPO_IDENT " %lld %c%02ld%02ld\n\n" REPO_INIT_MESSAGE "\n", tree,
		     (long long)now, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
		     (long long)now, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	if ((rc = git_object_write(objects, "commit", commit, (size_t)n, sync, rev, err)) < 0)
		return rc;
	snprintf(packed, sizeof(packed), "# pack-refs with: peeled fully-peeled sorted \n"
		 "%s refs/heads/" REPO_BRANCH "\n", rev);
	if ((rc = file_create(dir, "packed-refs", packed, sync, err)) < 0)
		return rc;
	for (size_t i = 0; sync && i < sizeof(sync_dirs) / sizeof(sync_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sync_dirs[i]);
		if ((rc = git_fsync_path(path, err)) < 0)
			return rc;
	}
	return 0;
}

/* A new repository, complete and fsync()ed, in a temporary directory next to where it goes
 * (tmp gets its path). Nothing reads it until repo_publish renames it into place, so a crash
 * leaves at most a temporary directory behind. */
static int repo_prepare(const char *root, const char *device_id, char tmp[4200],
			char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	int rc;

	snprintf(tmp, 4200, "%s/.new-%s.XXXXXX", root, device_id);
	if (mkdtemp(tmp) == NULL) {
		rc = margo_error_set(err, MARGO_EIO, "mkdtemp %s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		return rc;
	}
	if ((rc = repo_build(tmp, 1, rev, err)) < 0) {
		remove_tree(tmp);
		tmp[0] = '\0';
	}
	return rc;
}

static int repo_publish(const char *root, char tmp[4200], const char *path,
			struct margo_error *err)
{
	if (rename(tmp, path) < 0)
		return margo_error_set(err, MARGO_EIO, "rename %s: %s", path, strerror(errno));
	tmp[0] = '\0';
	return git_fsync_path(root, err);
}

/* Temporary directories a crash left behind (.new-* of repo_prepare; .probe.* of the git
 * probe older versions ran): nothing refers to them. */
static void remove_leftovers(const char *root)
{
	char path[4300];
	struct dirent *de;
	DIR *d = opendir(root);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".new-", 5) != 0 && strncmp(de->d_name, ".probe.", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		margo_log_info("removing a temporary directory left by a crash", "path=%s", path);
		remove_tree(path);
	}
	closedir(d);
}

int repo_root_init(const char *root, struct margo_error *err)
{
	int rc = margo_dir_create(root, 0700, err);

	if (rc == 0) {
		remove_leftovers(root);
	}
	return rc;
}

/* main's commit id: read from the reference files, or by git for a shape they do not cover. */
static int head_rev(const char *git_dir, char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	const char *args[] = { "git", "rev-parse", "--verify", "-q", "refs/heads/" REPO_BRANCH,
			       NULL };
	const struct git_ref *main_ref;
	struct git_refs refs;
	int rc = git_refs_read(git_dir, &refs, err);

	if (rc == 0) {
		main_ref = git_refs_find(&refs, "refs/heads/" REPO_BRANCH);
		if (main_ref != NULL)
			memcpy(rev, main_ref->oid, GIT_OID_HEXLEN + 1);
		else
			rc = margo_error_set(err, MARGO_ENOTFOUND, "no branch " REPO_BRANCH);
	}
	git_refs_free(&refs);
	if (rc == MARGO_EUNSUPPORTED)
		rc = git_oid(args, git_dir, NULL, NULL, 0, rev, err);
	return rc;
}

/* With the write lock held: main's revision, the repository created first when missing.
 * prepared (may be NULL or "") is a repository repo_prepare made beforehand, used when
 * needed (and then "" on return). */
static int repo_ensure_locked(const char *root, const char *device_id,
			      char rev[STORE_REVISION_LEN], int *created, char *prepared,
			      const char *prepared_rev, struct margo_error *err)
{
	char path[4096], aside[4300], tmp[4200];
	struct stat sb;
	int rc;

	if (created != NULL)
		*created = 0;
	if ((rc = repo_path(root, device_id, path, sizeof(path), err)) < 0)
		return rc;
	if (head_rev(path, rev, NULL) == 0) {
		if (commit_hook != NULL)
			commit_hook(commit_hook_ctx, device_id, rev);
		return 0;
	}
	if (lstat(path, &sb) == 0) {
		/* Left half-made by an older wfmd (git init, then a crash): kept for inspection. */
		snprintf(aside, sizeof(aside), "%s/.broken-%s.%lld", root, device_id,
			 (long long)time(NULL));
		if (rename(path, aside) < 0)
			return margo_error_set(err, MARGO_EIO, "rename %s: %s", path,
					       strerror(errno));
		margo_log_warn("incomplete repository moved aside", "device_id=%s path=%s",
			       device_id, aside);
	}
	if (prepared != NULL && prepared[0] != '\0') {
		if ((rc = repo_publish(root, prepared, path, err)) < 0)
			return rc;
		memcpy(rev, prepared_rev, STORE_REVISION_LEN);
	} else {
		if ((rc = repo_prepare(root, device_id, tmp, rev, err)) < 0)
			return rc;
		rc = repo_publish(root, tmp, path, err);
		if (tmp[0] != '\0')
			remove_tree(tmp);
		if (rc < 0)
			return rc;
	}
	if (created != NULL)
		*created = 1;
	if (commit_hook != NULL)
		commit_hook(commit_hook_ctx, device_id, rev);
	margo_log_info("repository created", "device_id=%s revision=%s", device_id, rev);
	return 0;
}

int repo_ensure(const char *root, const char *device_id, char rev[STORE_REVISION_LEN],
		int *created, struct margo_error *err)
{
	char path[4096], tmp[4200] = "", new_rev[STORE_REVISION_LEN];
	int rc;

	if ((rc = repo_path(root, device_id, path, sizeof(path), err)) < 0)
		return rc;
	/* A new repository is built (and fsync()ed) before taking the lock, so creations for
	 * many devices overlap; only the rename into place is serialised. */
	if (head_rev(path, new_rev, NULL) < 0 &&
	    (rc = repo_prepare(root, device_id, tmp, new_rev, err)) < 0)
		return rc;
	pthread_mutex_lock(&write_lock);
	rc = repo_ensure_locked(root, device_id, rev, created, tmp, new_rev, err);
	pthread_mutex_unlock(&write_lock);
	/* Another request created it meanwhile: this one is not needed. */
	if (tmp[0] != '\0')
		remove_tree(tmp);
	return rc;
}

/* Builds the next tree from main with a temporary index, changed by edit; commits it when it
 * differs from main's tree. */
static int repo_change(const char *root, const char *device_id, const char *file,
		       const char *data, size_t len, int remove, const char *message,
		       char rev[STORE_REVISION_LEN], int *changed, struct margo_error *err)
{
	char path[4096], index[4200], parent[STORE_REVISION_LEN], tree[STORE_REVISION_LEN];
	char old_tree[STORE_REVISION_LEN], blob[STORE_REVISION_LEN], cacheinfo[512];
	int rc;

	*changed = 0;
	pthread_mutex_lock(&write_lock);
	if ((rc = repo_ensure_locked(root, device_id, parent, NULL, NULL, NULL, err)) < 0)
		goto out;
	if ((rc = repo_path(root, device_id, path, sizeof(path), err)) < 0)
		goto out;
	snprintf(index, sizeof(index), "%s/wfmd-index", path);
	unlink(index);
	{
		const char *read_tree[] = { "git", "read-tree", parent, NULL };
		const char *parent_tree[] = { "git", "rev-parse", "--verify", "-q", NULL, NULL };
		char spec[STORE_REVISION_LEN + 8];

		snprintf(spec, sizeof(spec), "%s^{tree}", parent);
		parent_tree[4] = spec;
		if ((rc = git_simple(read_tree, path, index, err)) < 0 ||
		    (rc = git_oid(parent_tree, path, NULL, NULL, 0, old_tree, err)) < 0)
			goto out;
	}
	if (remove) {
		const char *ls[] = { "git", "ls-files", "--error-unmatch", "--", file, NULL };
		/* --index-info with mode 0 drops the entry; it needs no work tree. */
		const char *rm[] = { "git", "update-index", "--index-info", NULL };
		struct git_run r;
		char line[512];

		if (git_simple(ls, path, index, NULL) < 0) {
			rc = margo_error_set(err, MARGO_ENOTFOUND, "%s is not in the repository",
					     file);
			goto out;
		}
		snprintf(line, sizeof(line), "0 " ZERO_OID "\t%s\n", file);
		memset(&r, 0, sizeof(r));
		r.git_dir = path;
		r.index_file = index;
		r.input = line;
		r.input_len = strlen(line);
		r.out_max = SMALL_OUT_MAX;
		rc = git_run(rm, &r, err);
		free(r.out);
		if (rc < 0)
			goto out;
	} else {
		const char *hash[] = { "git", "hash-object", "-w", "--stdin", NULL };
		const char *add[] = { "git", "update-index", "--add", "--cacheinfo", cacheinfo,
				      NULL };

		if ((rc = git_oid(hash, path, NULL, data, len, blob, err)) < 0)
			goto out;
		snprintf(cacheinfo, sizeof(cacheinfo), "100644,%s,%s", blob, file);
		if ((rc = git_simple(add, path, index, err)) < 0)
			goto out;
	}
	{
		const char *write_tree[] = { "git", "write-tree", NULL };
		if ((rc = git_oid(write_tree, path, index, NULL, 0, tree, err)) < 0)
			goto out;
	}
	if (strcmp(tree, old_tree) == 0) {
		strcpy(rev, parent);
		rc = 0;
		goto out;
	}
	{
		const char *commit[] = { "git", "commit-tree", tree, "-p", parent, "-m", message,
					 NULL };
		if ((rc = git_oid(commit, path, NULL, NULL, 0, rev, err)) < 0)
			goto out;
	}
	{
		/* Compare-and-swap: refuses if main moved under us. */
		const char *update[] = { "git", "update-ref", "-m", message,
					 "refs/heads/" REPO_BRANCH, rev, parent, NULL };
		/* No git gc: objects stay loose, where repo_source.h reads them. */
		if ((rc = git_simple(update, path, NULL, err)) < 0)
			goto out;
		*changed = 1;
		if (commit_hook != NULL)
			commit_hook(commit_hook_ctx, device_id, rev);
	}
	margo_log_info("repository commit", "device_id=%s revision=%s file=%s", device_id, rev,
		       file);
	rc = 0;
out:
	unlink(index);
	pthread_mutex_unlock(&write_lock);
	return rc;
}

int repo_put_file(const char *root, const char *device_id, const char *path, const char *data,
		  size_t len, const char *message, char rev[STORE_REVISION_LEN], int *changed,
		  struct margo_error *err)
{
	return repo_change(root, device_id, path, data, len, 0, message, rev, changed, err);
}

int repo_remove_file(const char *root, const char *device_id, const char *path,
		     const char *message, char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	int changed;

	return repo_change(root, device_id, path, NULL, 0, 1, message, rev, &changed, err);
}
