/* desired_import: the bare repositories of wfmd 0.1 (DIR/repos/<deviceId>.git, loose
 * or packed objects) read with libgit2 into the store, once, at start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <git2.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "desired.h"
#include "store_desired.h"

struct import {
	struct store_object *obj;
	git_odb_object **raw;           /* owned by libgit2, freed with git_odb_object_free */
	size_t n, cap;
	git_odb *odb;
};

static void import_clear(struct import *im)
{
	for (size_t i = 0; i < im->n; i++)
		git_odb_object_free(im->raw[i]);
	git_odb_free(im->odb);
	free(im->obj);
	free(im->raw);
	memset(im, 0, sizeof(*im));
}

static int object_add(const git_oid *id, void *payload)
{
	struct import *im = payload;
	git_odb_object *o = NULL;
	struct store_object *so;

	if (im->n == im->cap) {
		size_t ncap = im->cap ? im->cap * 2 : 64;
		void *a = realloc(im->obj, ncap * sizeof(*im->obj));
		void *b;

		if (a == NULL)
			return -1;
		im->obj = a;
		b = realloc(im->raw, ncap * sizeof(*im->raw));
		if (b == NULL)
			return -1;
		im->raw = b;
		im->cap = ncap;
	}
	if (git_odb_read(&o, im->odb, id) < 0)
		return -1;
	so = &im->obj[im->n];
	im->raw[im->n++] = o;
	memcpy(so->oid, id->id, STORE_OID_LEN);
	so->type = (int)git_odb_object_type(o);
	so->data = git_odb_object_data(o);
	so->len = git_odb_object_size(o);
	if (so->type < STORE_OBJECT_COMMIT || so->type > STORE_OBJECT_TAG)
		return -1;
	return 0;
}

static int git_fail(struct margo_error *err, const char *path, const char *what)
{
	const git_error *e = git_error_last();

	return margo_error_set(err, MARGO_EIO, "%s: %s: %s", path, what,
			       e != NULL && e->message != NULL ? e->message : "failed");
}

/* Imports one repository: every object, and main as the device's reference. */
static int import_repo(store *st, const char *path, const char *device_id,
		       struct margo_error *err)
{
	struct import im = { 0 };
	struct store_desired_change ch;
	git_repository *repo = NULL;
	git_oid main_oid;
	char rev[GIT_OID_HEXSZ + 1];
	int rc;

	if ((rc = git_repository_open_bare(&repo, path)) < 0) {
		/* Not a repository (left half-made by a crash of the old wfmd): skipped. */
		rc = rc == GIT_ENOTFOUND ? margo_error_set(err, MARGO_ENOTFOUND, "%s: not a "
							   "repository", path) :
			git_fail(err, path, "open");
		goto out;
	}
	if (git_reference_name_to_id(&main_oid, repo, "refs/heads/" DESIRED_BRANCH) < 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "%s: no branch " DESIRED_BRANCH, path);
		goto out;
	}
	git_oid_tostr(rev, sizeof(rev), &main_oid);
	if (git_repository_odb(&im.odb, repo) < 0 || git_odb_foreach(im.odb, object_add, &im) < 0) {
		rc = git_fail(err, path, "read objects");
		goto out;
	}
	ch = (struct store_desired_change){ .device_id = device_id, .old_rev = STORE_REF_ANY,
					    .new_rev = rev, .objects = im.obj,
					    .nobjects = im.n, .now = margo_time_now() };
	if ((rc = store_desired_commit(st, &ch, err)) == 0)
		margo_log_info("repository imported", "device_id=%s revision=%s objects=%zu",
			       device_id, rev, im.n);
out:
	import_clear(&im);
	git_repository_free(repo);
	return rc;
}

/* fsync() of a directory, so a rename in it is durable. */
static int dir_sync(const char *path, struct margo_error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return margo_error_set(err, MARGO_EIO, "%s: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		rc = margo_error_set(err, MARGO_EIO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* "<uuid>.git" -> uuid; -1 for anything else. */
static int repo_name(const char *name, char id[MARGO_UUID_LEN])
{
	size_t n = strlen(name);

	if (n != MARGO_UUID_LEN - 1 + 4 || strcmp(name + n - 4, ".git") != 0)
		return -1;
	memcpy(id, name, MARGO_UUID_LEN - 1);
	id[MARGO_UUID_LEN - 1] = '\0';
	return margo_uuid_valid(id) ? 0 : -1;
}

/* Every repository of dir; a device that no longer exists, or a repository without main
 * (left half-made by a crash of the old wfmd), is skipped with a warning. */
static int import_all(store *st, const char *dir, long *count, struct margo_error *err)
{
	char path[4352], id[MARGO_UUID_LEN];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return margo_error_set(err, MARGO_EIO, "%s: %s", dir, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (repo_name(de->d_name, id) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = import_repo(st, path, id, err);
		if (rc == MARGO_ENOTFOUND) {
			margo_log_warn("repository not imported", "path=%s reason=\"%s\"", path,
				       err->message);
			margo_error_clear(err);
			rc = 0;
		} else if (rc == 0) {
			(*count)++;
		}
	}
	closedir(d);
	return rc;
}

int desired_import(store *st, const char *repos_dir, long *ndevices, struct margo_error *err)
{
	char done[4200], parent[4200], *slash;
	long count = 0;
	int rc;

	if (ndevices != NULL)
		*ndevices = 0;
	if (access(repos_dir, F_OK) < 0)
		return 0;
	margo_log_info("importing device repositories into the store", "path=%s", repos_dir);
	if (git_libgit2_init() < 0)
		return git_fail(err, repos_dir, "libgit2");
	rc = import_all(st, repos_dir, &count, err);
	git_libgit2_shutdown();
	if (rc < 0)
		return rc;
	/* Only now is the import complete: what is left on disk is a backup. */
	snprintf(done, sizeof(done), "%s.imported", repos_dir);
	if (access(done, F_OK) == 0)
		snprintf(done, sizeof(done), "%s.imported.%lld", repos_dir,
			 (long long)margo_time_now());
	if (rename(repos_dir, done) < 0)
		return margo_error_set(err, MARGO_EIO, "rename %s: %s", repos_dir, strerror(errno));
	snprintf(parent, sizeof(parent), "%s", repos_dir);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent)
		*slash = '\0';
	if ((rc = dir_sync(slash != NULL ? parent : ".", err)) < 0)
		return rc;
	margo_log_info("device repositories imported", "devices=%ld moved_to=%s", count, done);
	if (ndevices != NULL)
		*ndevices = count;
	return 0;
}
