#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "margo/token.h"
#include "git_object.h"
#include "git_oid.h"
#include "git_refs.h"
#include "repo_source.h"

struct repo_source {
	char git_dir[4096];
	char objects[4200];
};

static int source_ref(void *ctx, const char *name, unsigned char oid[GIT_SOURCE_OID_LEN],
		      struct margo_error *err)
{
	struct repo_source *s = ctx;
	struct git_refs refs;
	const struct git_ref *r;
	char full[GIT_REFNAME_MAX];
	int rc;

	snprintf(full, sizeof(full), "refs/heads/%s", name);
	rc = git_refs_read(s->git_dir, &refs, err);
	if (rc == 0) {
		r = git_refs_find(&refs, full);
		if (r == NULL)
			rc = margo_error_set(err, MARGO_ENOTFOUND, "no reference %s", full);
		else if (git_oid_from_hex(r->oid, oid) < 0)
			rc = margo_error_set(err, MARGO_EIO, "bad reference %s", full);
	}
	git_refs_free(&refs);
	return rc;
}

static int source_read(void *ctx, const unsigned char oid[GIT_SOURCE_OID_LEN], int *type,
		       unsigned char **data, size_t *len, struct margo_error *err)
{
	static const char *const names[] = { "", "commit", "tree", "blob", "tag" };
	struct repo_source *s = ctx;
	char hex[GIT_OID_HEX + 1], tname[16];
	char *content = NULL;
	int rc;

	git_oid_to_hex(oid, hex);
	rc = git_object_read(s->objects, hex, tname, &content, len, REPO_SOURCE_OBJECT_MAX, err);
	if (rc < 0)
		return rc;
	*type = 0;
	for (int t = GIT_SOURCE_COMMIT; t <= GIT_SOURCE_TAG; t++)
		if (strcmp(tname, names[t]) == 0)
			*type = t;
	if (*type == 0) {
		free(content);
		return margo_error_set(err, MARGO_EIO, "object %s of unknown type", hex);
	}
	*data = (unsigned char *)content;
	return 0;
}

static void source_close(void *ctx)
{
	free(ctx);
}

int repo_source_open(const char *root, const char *device_id, struct git_source *out,
		     struct margo_error *err)
{
	struct repo_source *s;
	struct stat sb;

	memset(out, 0, sizeof(*out));
	if (!margo_uuid_valid(device_id))
		return margo_error_set(err, MARGO_EINVAL, "not a device id");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	snprintf(s->git_dir, sizeof(s->git_dir), "%s/%s.git", root, device_id);
	snprintf(s->objects, sizeof(s->objects), "%s/objects", s->git_dir);
	if (stat(s->objects, &sb) < 0) {
		free(s);
		return margo_error_set(err, MARGO_ENOTFOUND, "no repository");
	}
	out->ctx = s;
	out->ref = source_ref;
	out->read = source_read;
	out->close = source_close;
	return 0;
}
