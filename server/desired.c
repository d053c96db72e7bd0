#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "margo/hex.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "desired.h"
#include "git_oid.h"
#include "git_tree.h"
#include "store_desired.h"

/* Attempts of a change whose compare-and-swap lost to a concurrent change of the device. */
#define CHANGE_ATTEMPTS 16
/* The longest pause between two of them (edit_backoff). */
#define EDIT_BACKOFF_MAX_US 250000
#define FILE_NAME_MAX (STORE_ID_MAX + 8)

int desired_revision(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
		     struct margo_error *err)
{
	return store_repo_revision_get(st, device_id, rev, err);
}

/* Reads object oid, which must be of type want. */
static int object_read(store *st, const unsigned char oid[GIT_TREE_OID_LEN], int want,
		       unsigned char **data, size_t *len, struct margo_error *err)
{
	int type = 0, rc = store_object_get(st, oid, &type, data, len, err);
	char hex[41];

	if (rc == 0 && type != want) {
		free(*data);
		*data = NULL;
		margo_hex_lower(oid, GIT_TREE_OID_LEN, hex);
		rc = margo_error_set(err, MARGO_EIO, "object %s is of type %d, not %d", hex, type,
				     want);
	}
	return rc;
}

int desired_initial_new(const char *device_id, struct desired_initial *out,
			struct margo_error *err)
{
	unsigned char tree[GIT_TREE_OID_LEN];
	size_t commit_len = 0;
	int64_t now = margo_time_now();
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = git_tree_oid("tree", "", 0, tree, err)) < 0 ||
	    (rc = git_commit_build(tree, NULL, DESIRED_AUTHOR, now, DESIRED_INIT_MESSAGE,
				   &out->commit, &commit_len, err)) < 0)
		goto out;
	out->obj[0] = (struct store_object){ .type = STORE_OBJECT_TREE, .data = "", .len = 0 };
	memcpy(out->obj[0].oid, tree, GIT_TREE_OID_LEN);
	out->obj[1] = (struct store_object){ .type = STORE_OBJECT_COMMIT, .data = out->commit,
					     .len = commit_len };
	if ((rc = git_tree_oid("commit", out->commit, commit_len, out->obj[1].oid, err)) < 0)
		goto out;
	margo_hex_lower(out->obj[1].oid, GIT_TREE_OID_LEN, out->rev);
	out->change = (struct store_desired_change){ .device_id = device_id, .old_rev = NULL,
						     .new_rev = out->rev, .objects = out->obj,
						     .nobjects = 2, .now = now };
out:
	if (rc < 0)
		desired_initial_free(out);
	return rc;
}

void desired_initial_free(struct desired_initial *in)
{
	free(in->commit);
	in->commit = NULL;
}

int desired_repo_ensure(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			int *created, struct margo_error *err)
{
	struct desired_initial init;
	int rc;

	if (created != NULL)
		*created = 0;
	if ((rc = store_repo_revision_get(st, device_id, rev, NULL)) != MARGO_ENOTFOUND)
		return rc < 0 ? store_repo_revision_get(st, device_id, rev, err) : 0;
	if (!margo_uuid_valid(device_id))
		return margo_error_set(err, MARGO_ENOTFOUND, "no device %s", device_id);
	if ((rc = desired_initial_new(device_id, &init, err)) < 0)
		return rc;
	rc = store_desired_commit(st, &init.change, err);
	if (rc == MARGO_ECONFLICT) {
		/* Created by a concurrent request meanwhile: that one is the repository. */
		rc = store_repo_revision_get(st, device_id, rev, err);
		goto out;
	}
	if (rc == 0) {
		memcpy(rev, init.rev, STORE_REVISION_LEN);
		if (created != NULL)
			*created = 1;
		margo_log_info("repository created", "device_id=%s revision=%s", device_id, rev);
	}
out:
	desired_initial_free(&init);
	return rc;
}

/* One change being built: the objects it adds (owned) and where main goes. */
struct change {
	struct store_object obj[4];
	void *owned[4];
	size_t nobj;
	unsigned char root[GIT_TREE_OID_LEN];           /* main's tree before */
	unsigned char new_root[GIT_TREE_OID_LEN];
	int found;                                      /* the file was there */
};

static void change_clear(struct change *c)
{
	for (size_t i = 0; i < c->nobj; i++)
		free(c->owned[i]);
	memset(c, 0, sizeof(*c));
}

/* Adds an object (data owned by c from now on) and puts its id into oid. */
static int change_add(struct change *c, int type, const char *type_name, void *data, size_t len,
		      unsigned char oid[GIT_TREE_OID_LEN], struct margo_error *err)
{
	struct store_object *o = &c->obj[c->nobj];
	int rc;

	c->owned[c->nobj++] = data;
	o->type = type;
	o->data = data != NULL ? data : "";
	o->len = len;
	if ((rc = git_tree_oid(type_name, o->data, len, o->oid, err)) == 0 && oid != NULL)
		memcpy(oid, o->oid, GIT_TREE_OID_LEN);
	return rc;
}

/* The new root tree of main (at commit parent) with file set to blob, or removed when blob is
 * NULL: the deployments tree and the root tree as new objects of c. */
static int change_trees(store *st, struct change *c, const unsigned char parent[GIT_TREE_OID_LEN],
			const char *file, const unsigned char *blob, struct margo_error *err)
{
	unsigned char *commit = NULL, *root = NULL, *sub = NULL, *nsub = NULL, *nroot = NULL;
	unsigned char sub_oid[GIT_TREE_OID_LEN], nsub_oid[GIT_TREE_OID_LEN];
	size_t len, root_len, sub_len = 0, nsub_len, nroot_len;
	int rc, found;

	if ((rc = object_read(st, parent, STORE_OBJECT_COMMIT, &commit, &len, err)) < 0)
		goto out;
	if (git_commit_tree((const char *)commit, len, c->root) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "malformed commit");
		goto out;
	}
	if ((rc = object_read(st, c->root, STORE_OBJECT_TREE, &root, &root_len, err)) < 0)
		goto out;
	rc = git_tree_find(root, root_len, DESIRED_DIR, sub_oid, NULL);
	if (rc == 0)
		rc = object_read(st, sub_oid, STORE_OBJECT_TREE, &sub, &sub_len, err);
	else if (rc == MARGO_ENOTFOUND)
		rc = 0;
	if (rc < 0 || (rc = git_tree_edit(sub, sub_len, file, GIT_MODE_FILE, blob, &nsub,
					  &nsub_len, &c->found, err)) < 0)
		goto out;
	if (nsub_len > 0 && (rc = change_add(c, STORE_OBJECT_TREE, "tree", nsub, nsub_len,
					     nsub_oid, err)) < 0) {
		nsub = NULL;
		goto out;
	}
	if (nsub_len > 0)
		nsub = NULL;    /* owned by c now */
	/* An empty deployments/ is no entry at all, as git writes it. */
	rc = git_tree_edit(root, root_len, DESIRED_DIR, GIT_MODE_TREE,
			   nsub_len > 0 ? nsub_oid : NULL, &nroot, &nroot_len, &found, err);
	if (rc == 0) {
		rc = change_add(c, STORE_OBJECT_TREE, "tree", nroot, nroot_len, c->new_root, err);
		nroot = NULL;
	}
out:
	free(commit);
	free(root);
	free(sub);
	free(nsub);
	free(nroot);
	return rc;
}

struct edit {
	const char *device_id;
	const char *deployment_id;
	const void *yaml;               /* NULL: remove */
	size_t len;
	const char *name, *application_id, *message;
};

/* One attempt of an edit on main at rev: builds the objects and stores them with the moved
 * reference (compare-and-swap: MARGO_ECONFLICT when main moved). */
static int edit_once(store *st, const struct edit *e, char rev[STORE_REVISION_LEN],
		     int *changed, struct margo_error *err)
{
	struct change c;
	struct store_desired_change ch;
	unsigned char parent[GIT_TREE_OID_LEN], blob[GIT_TREE_OID_LEN], commit_oid[GIT_TREE_OID_LEN];
	char file[FILE_NAME_MAX], old[STORE_REVISION_LEN], *commit = NULL, *copy = NULL;
	size_t commit_len;
	int rc;

	memset(&c, 0, sizeof(c));
	snprintf(file, sizeof(file), "%s.yaml", e->deployment_id);
	if ((rc = desired_repo_ensure(st, e->device_id, old, NULL, err)) < 0)
		goto out;
	if (git_oid_from_hex(old, parent) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "main is not a SHA-1 commit id");
		goto out;
	}
	if (e->yaml != NULL) {
		if ((copy = malloc(e->len + 1)) == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(copy, e->yaml, e->len);
		rc = change_add(&c, STORE_OBJECT_BLOB, "blob", copy, e->len, blob, err);
		copy = NULL;
		if (rc < 0)
			goto out;
	}
	if ((rc = change_trees(st, &c, parent, file, e->yaml != NULL ? blob : NULL, err)) < 0)
		goto out;
	ch = (struct store_desired_change){ .device_id = e->device_id, .old_rev = old,
					    .new_rev = old, .now = margo_time_now(),
					    .deployment_id = e->deployment_id, .name = e->name,
					    .application_id = e->application_id,
					    .op = e->yaml != NULL ? STORE_DESIRED_PUT :
						  STORE_DESIRED_REMOVE };
	strcpy(rev, old);
	*changed = memcmp(c.root, c.new_root, GIT_TREE_OID_LEN) != 0;
	if (*changed) {
		if ((rc = git_commit_build(c.new_root, parent, DESIRED_AUTHOR, ch.now, e->message,
					   &commit, &commit_len, err)) < 0 ||
		    (rc = change_add(&c, STORE_OBJECT_COMMIT, "commit", commit, commit_len,
				     commit_oid, err)) < 0) {
			commit = NULL;
			goto out;
		}
		commit = NULL;
		margo_hex_lower(commit_oid, GIT_TREE_OID_LEN, rev);
		ch.new_rev = rev;
		ch.objects = c.obj;
		ch.nobjects = c.nobj;
	}
	rc = store_desired_commit(st, &ch, err);
out:
	free(commit);
	change_clear(&c);
	return rc;
}

/* Microseconds on CLOCK_MONOTONIC. */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* After the attempt-th lost compare-and-swap: a random pause of up to 2^attempt times what
 * the lost attempt took (at least 1 ms, at most EDIT_BACKOFF_MAX_US), so that writers racing
 * on one device stop retrying in step, whatever one attempt costs. Without it, on PostgreSQL
 * (reading the trees to change takes round trips, and replicas write in parallel) one of
 * four writers could lose all its attempts (test_server_desired's concurrent case). */
static void edit_backoff(int attempt, int64_t took_us)
{
	static __thread unsigned int seed;
	int64_t cap = (took_us > 1000 ? took_us : 1000) << (attempt < 6 ? attempt : 6);
	struct timespec ts;
	int64_t us;

	if (seed == 0)
		seed = (unsigned int)mono_us() ^ (unsigned int)(uintptr_t)&seed;
	if (cap > EDIT_BACKOFF_MAX_US)
		cap = EDIT_BACKOFF_MAX_US;
	us = (int64_t)rand_r(&seed) % cap;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

/* Applies e, again (after edit_backoff) while a concurrent change moves main first. */
static int edit_apply(store *st, const struct edit *e, char rev[STORE_REVISION_LEN],
		      int *changed, struct margo_error *err)
{
	int rc = MARGO_ECONFLICT;
	int64_t began;

	for (int i = 0; i < CHANGE_ATTEMPTS && rc == MARGO_ECONFLICT; i++) {
		began = mono_us();
		rc = edit_once(st, e, rev, changed, err);
		if (rc == MARGO_ECONFLICT && i + 1 < CHANGE_ATTEMPTS)
			edit_backoff(i, mono_us() - began);
	}
	if (rc == 0 && *changed)
		margo_log_info("repository commit", "device_id=%s revision=%s file=" DESIRED_DIR
			       "/%s.yaml", e->device_id, rev, e->deployment_id);
	return rc;
}

int desired_put(store *st, const char *device_id, const char *deployment_id, const char *yaml,
		size_t len, const char *name, const char *application_id, const char *message,
		char rev[STORE_REVISION_LEN], int *changed, struct margo_error *err)
{
	struct edit e = { device_id, deployment_id, yaml != NULL ? yaml : "", len, name,
			  application_id, message };

	return edit_apply(st, &e, rev, changed, err);
}

int desired_remove(store *st, const char *device_id, const char *deployment_id,
		   const char *message, char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	struct edit e = { device_id, deployment_id, NULL, 0, NULL, NULL, message };
	int changed = 0;

	return edit_apply(st, &e, rev, &changed, err);
}

int desired_get(store *st, const char *device_id, const char *deployment_id, char **yaml,
		size_t *len, struct margo_error *err)
{
	unsigned char oid[GIT_TREE_OID_LEN], *commit = NULL, *tree = NULL, *blob = NULL;
	char rev[STORE_REVISION_LEN], file[FILE_NAME_MAX];
	size_t n;
	int rc;

	*yaml = NULL;
	snprintf(file, sizeof(file), "%s.yaml", deployment_id);
	if ((rc = store_repo_revision_get(st, device_id, rev, err)) < 0)
		goto out;
	if (git_oid_from_hex(rev, oid) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "main is not a SHA-1 commit id");
		goto out;
	}
	if ((rc = object_read(st, oid, STORE_OBJECT_COMMIT, &commit, &n, err)) < 0)
		goto out;
	if (git_commit_tree((const char *)commit, n, oid) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "malformed commit %s", rev);
		goto out;
	}
	if ((rc = object_read(st, oid, STORE_OBJECT_TREE, &tree, &n, err)) < 0 ||
	    (rc = git_tree_find(tree, n, DESIRED_DIR, oid, NULL)) < 0)
		goto out;
	free(tree);
	tree = NULL;
	if ((rc = object_read(st, oid, STORE_OBJECT_TREE, &tree, &n, err)) < 0 ||
	    (rc = git_tree_find(tree, n, file, oid, NULL)) < 0)
		goto out;
	if ((rc = object_read(st, oid, STORE_OBJECT_BLOB, &blob, len, err)) == 0) {
		*yaml = (char *)blob;
		blob = NULL;
	}
out:
	if (rc == MARGO_ENOTFOUND)
		margo_error_set(err, MARGO_ENOTFOUND, "no %s in the desired state of %s", file,
				device_id);
	free(commit);
	free(tree);
	free(blob);
	return rc;
}
