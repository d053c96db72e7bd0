/* rollout_target.h over the per-device repositories (repo.h) and the deployment rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "margo/hex.h"
#include "margo/timeutil.h"
#include "git_object.h"
#include "git_refs.h"
#include "repo.h"
#include "rollout_target.h"
#include "store.h"

#define OBJECT_MAX (2u * 1024u * 1024u)
#define MESSAGE_MAX 512

/* An object of type want from the repository's loose objects. */
static int object_read(const char *objects, const char *oid, const char *want, char **data,
		       size_t *len, struct margo_error *err)
{
	char type[16];
	int rc = git_object_read(objects, oid, type, data, len, OBJECT_MAX, err);

	if (rc == 0 && strcmp(type, want) != 0) {
		free(*data);
		*data = NULL;
		rc = margo_error_set(err, MARGO_EIO, "object %s is a %s, not a %s", oid, type, want);
	}
	return rc;
}

/* The id of entry name in tree (content, len bytes) into oid. */
static int tree_find(const char *tree, size_t len, const char *name, char oid[41])
{
	const char *p = tree, *end = tree + len;

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *nul = sp != NULL ? memchr(sp, '\0', (size_t)(end - sp)) : NULL;

		if (nul == NULL || end - nul < 21)
			return MARGO_EIO;
		if (strcmp(sp + 1, name) == 0) {
			margo_hex_lower((const unsigned char *)nul + 1, 20, oid);
			return 0;
		}
		p = nul + 21;
	}
	return MARGO_ENOTFOUND;
}

int rollout_target_get(struct wfmd *w, const char *device_id, const char *deployment_id,
		       char **yaml, size_t *len, struct margo_error *err)
{
	struct git_refs refs = { 0 };
	char name[STORE_TEXT_MAX], dir[4096], objects[4096 + 16], oid[41], file[STORE_ID_MAX + 8];
	char *commit = NULL, *tree = NULL;
	size_t n;
	int rc;

	*yaml = NULL;
	if ((rc = store_deployment_desired_get(w->store, device_id, deployment_id, name, err)) < 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s.git", w->repo_root, device_id);
	snprintf(objects, sizeof(objects), "%s/objects", dir);
	snprintf(file, sizeof(file), "%s.yaml", deployment_id);
	if ((rc = git_refs_read(dir, &refs, err)) < 0)
		goto out;
	if (refs.head_oid[0] == '\0') {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no commit yet");
		goto out;
	}
	if ((rc = object_read(objects, refs.head_oid, "commit", &commit, &n, err)) < 0)
		goto out;
	if (strncmp(commit, "tree ", 5) != 0 || !git_oid_hex(commit + 5)) {
		rc = margo_error_set(err, MARGO_EIO, "malformed commit %s", refs.head_oid);
		goto out;
	}
	memcpy(oid, commit + 5, 40);
	oid[40] = '\0';
	if ((rc = object_read(objects, oid, "tree", &tree, &n, err)) < 0 ||
	    (rc = tree_find(tree, n, "deployments", oid)) < 0)
		goto out;
	free(tree);
	tree = NULL;
	if ((rc = object_read(objects, oid, "tree", &tree, &n, err)) < 0 ||
	    (rc = tree_find(tree, n, file, oid)) < 0)
		goto out;
	rc = object_read(objects, oid, "blob", yaml, len, err);
out:
	if (rc == MARGO_ENOTFOUND && err != NULL && err->message[0] == '\0')
		margo_error_set(err, MARGO_ENOTFOUND, "no %s in the repository", file);
	free(commit);
	free(tree);
	git_refs_free(&refs);
	return rc;
}

int rollout_target_put(struct wfmd *w, const char *device_id, const char *deployment_id,
		       const char *yaml, size_t len, const char *rollout_id,
		       struct margo_error *err)
{
	struct margo_appdeploy *dep = NULL;
	struct margo_validation v;
	char old[STORE_TEXT_MAX], rev[STORE_REVISION_LEN], file[STORE_ID_MAX + 32];
	char message[MESSAGE_MAX];
	int rc, exists, changed = 0;

	margo_validation_init(&v);
	if ((rc = margo_appdeploy_parse(yaml, len, &dep, &v)) < 0)
		return margo_error_set(err, rc, "the rollout's document does not parse");
	rc = store_deployment_desired_get(w->store, device_id, deployment_id, old, err);
	if (rc < 0 && rc != MARGO_ENOTFOUND)
		goto out;
	exists = rc == 0;
	if ((rc = store_repo_revision_get(w->store, device_id, rev, err)) == MARGO_ENOTFOUND)
		rc = repo_ensure(w->repo_root, device_id, rev, NULL, err);
	if (rc < 0)
		goto out;
	snprintf(file, sizeof(file), "deployments/%s.yaml", deployment_id);
	snprintf(message, sizeof(message), "%s %s (%s) by rollout %s", exists ? "Update" : "Deploy",
		 deployment_id, dep->name, rollout_id);
	if ((rc = repo_put_file(w->repo_root, device_id, file, yaml, len, message, rev, &changed,
				err)) < 0)
		goto out;
	rc = store_deployment_desired_put(w->store, device_id, deployment_id, dep->name,
					  dep->application_id, margo_time_now(), err);
out:
	margo_appdeploy_free(dep);
	return rc;
}

int rollout_target_remove(struct wfmd *w, const char *device_id, const char *deployment_id,
			  const char *rollout_id, struct margo_error *err)
{
	char name[STORE_TEXT_MAX], rev[STORE_REVISION_LEN], file[STORE_ID_MAX + 32];
	char message[MESSAGE_MAX];
	int rc;

	rc = store_deployment_desired_get(w->store, device_id, deployment_id, name, err);
	if (rc == MARGO_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	snprintf(file, sizeof(file), "deployments/%s.yaml", deployment_id);
	snprintf(message, sizeof(message), "Undeploy %s (rollback of rollout %s)", deployment_id,
		 rollout_id);
	rc = repo_remove_file(w->repo_root, device_id, file, message, rev, err);
	if (rc < 0 && rc != MARGO_ENOTFOUND)
		return rc;
	return store_deployment_desired_remove(w->store, device_id, deployment_id, err);
}
