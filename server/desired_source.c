/* desired_git_source: a device's repository in the store as a git_source (git_source.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/token.h"
#include "desired.h"
#include "git_oid.h"
#include "git_tree.h"
#include "store_desired.h"

_Static_assert((int)STORE_OBJECT_COMMIT == (int)GIT_SOURCE_COMMIT &&
	       (int)STORE_OBJECT_TREE == (int)GIT_SOURCE_TREE &&
	       (int)STORE_OBJECT_BLOB == (int)GIT_SOURCE_BLOB &&
	       (int)STORE_OBJECT_TAG == (int)GIT_SOURCE_TAG &&
	       STORE_OID_LEN == GIT_SOURCE_OID_LEN, "object numbering differs");

struct source {
	store *st;
	char device_id[MARGO_UUID_LEN];
	char rev[STORE_REVISION_LEN];   /* main, when read already (desired_git_source_at) */
};

static int source_ref(void *ctx, const char *name, unsigned char oid[GIT_SOURCE_OID_LEN],
		      struct margo_error *err)
{
	struct source *s = ctx;
	char rev[STORE_REVISION_LEN];
	int rc;

	if (strcmp(name, DESIRED_BRANCH) != 0)
		return margo_error_set(err, MARGO_ENOTFOUND, "no branch %s", name);
	if (s->rev[0] != '\0')
		memcpy(rev, s->rev, sizeof(rev));
	else if ((rc = store_repo_revision_get(s->st, s->device_id, rev, err)) < 0)
		return rc;
	if (git_oid_from_hex(rev, oid) < 0)
		return margo_error_set(err, MARGO_EIO, "main is not a SHA-1 commit id");
	return 0;
}

static int source_read(void *ctx, const unsigned char oid[GIT_SOURCE_OID_LEN], int *type,
		       unsigned char **data, size_t *len, struct margo_error *err)
{
	struct source *s = ctx;

	/* store_object_type numbers objects as git_source_type does. */
	return store_object_get(s->st, oid, type, data, len, err);
}

static void source_close(void *ctx)
{
	free(ctx);
}

int desired_git_source(store *st, const char *device_id, struct git_source *out,
		       struct margo_error *err)
{
	return desired_git_source_at(st, device_id, "", out, err);
}

int desired_git_source_at(store *st, const char *device_id, const char *rev,
			  struct git_source *out, struct margo_error *err)
{
	struct source *s;

	memset(out, 0, sizeof(*out));
	if (!margo_uuid_valid(device_id))
		return margo_error_set(err, MARGO_ENOTFOUND, "no repository %s", device_id);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	s->st = st;
	memcpy(s->device_id, device_id, MARGO_UUID_LEN);
	snprintf(s->rev, sizeof(s->rev), "%s", rev);
	out->ctx = s;
	out->ref = source_ref;
	out->read = source_read;
	out->close = source_close;
	return 0;
}
