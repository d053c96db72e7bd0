/* fleet-sim: what a fetched revision asks of a device. The commit's tree, its "deployments"
 * tree and one <deploymentId>.yaml blob per deployment (docs/api.md section 5), read from
 * the fetched pack; compared with what the device had, the deployments to install (new or
 * changed blob) and to remove. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-sim.h"

#define YAML_SUFFIX ".yaml"

struct tree_find {
	const char *name;
	char oid[41];
	int found;
};

static int find_dir(void *ctx, const char *mode, const char *name, const char *oid)
{
	struct tree_find *f = ctx;

	if (strcmp(name, f->name) == 0 && strcmp(mode, "40000") == 0) {
		memcpy(f->oid, oid, sizeof(f->oid));
		f->found = 1;
		return 1;
	}
	return 0;
}

struct dep_list {
	struct fs_act_dep *v;
	size_t n;
	int bad;
};

static int add_dep(void *ctx, const char *mode, const char *name, const char *oid)
{
	struct dep_list *l = ctx;
	size_t len = strlen(name), sl = strlen(YAML_SUFFIX);
	struct fs_act_dep *v;

	if (strcmp(mode, "100644") != 0 || len <= sl || len - sl >= FS_DEPLOYMENT_ID_MAX ||
	    strcmp(name + len - sl, YAML_SUFFIX) != 0)
		return 0; /* not a deployment file: a device ignores it */
	v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (v == NULL) {
		l->bad = 1;
		return -1;
	}
	l->v = v;
	memcpy(v[l->n].id, name, len - sl);
	v[l->n].id[len - sl] = '\0';
	memcpy(v[l->n].blob, oid, sizeof(v[l->n].blob));
	l->n++;
	return 0;
}

static const struct fs_act_dep *dep_find(const struct fs_act_dep *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

/* Appends a change (id, remove) to *out; -1 when out of memory. */
static int change_add(struct fs_act_change **out, size_t *n, const char *id, int remove)
{
	struct fs_act_change *v = realloc(*out, (*n + 1) * sizeof(**out));

	if (v == NULL)
		return -1;
	*out = v;
	snprintf(v[*n].id, sizeof(v[*n].id), "%s", id);
	v[*n].remove = remove;
	v[*n].fail = 0;
	(*n)++;
	return 0;
}

/* The changes from the device's deployments to l's; every new blob must be in the pack. */
static const char *diff(const struct fs_pack *pk, const struct fs_act_dev *a,
			const struct dep_list *l, struct fs_act_change **out, size_t *n)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct fs_act_dep *old = dep_find(a->deps, a->ndeps, l->v[i].id);

		if (old != NULL && strcmp(old->blob, l->v[i].blob) == 0)
			continue;
		if (fs_pack_find(pk, l->v[i].blob, 3) == NULL)
			return "check: a changed deployment's blob is not in the fetched pack";
		if (change_add(out, n, l->v[i].id, 0) != 0)
			return "(client: out of memory)";
	}
	for (size_t i = 0; i < a->ndeps; i++)
		if (dep_find(l->v, l->n, a->deps[i].id) == NULL &&
		    change_add(out, n, a->deps[i].id, 1) != 0)
			return "(client: out of memory)";
	return NULL;
}

const char *fs_act_tree_apply(const struct fs_pack *pk, const char *commit_oid,
			      struct fs_act_dev *a, struct fs_act_change **out, size_t *n)
{
	const struct fs_pack_obj *commit = fs_pack_find(pk, commit_oid, 1), *root, *dir;
	struct tree_find f = { .name = "deployments" };
	struct dep_list l = { NULL, 0, 0 };
	const char *why = NULL;
	char tree[41];

	*out = NULL;
	*n = 0;
	if (commit == NULL || fs_commit_tree(commit, tree) != 0)
		return "check: the fetched commit is missing or malformed";
	if (strcmp(tree, a->tree) == 0)
		return NULL; /* same content as the device's commit */
	if ((root = fs_pack_find(pk, tree, 2)) == NULL)
		return "check: the new commit's tree is not in the fetched pack";
	if (fs_tree_each(root, find_dir, &f) < 0)
		return "check: malformed tree";
	if (f.found && strcmp(f.oid, a->deps_tree) == 0)
		goto keep; /* deployments unchanged */
	if (f.found) {
		if ((dir = fs_pack_find(pk, f.oid, 2)) == NULL)
			return "check: the deployments tree is not in the fetched pack";
		if (fs_tree_each(dir, add_dep, &l) < 0 || l.bad) {
			free(l.v);
			return l.bad ? "(client: out of memory)" : "check: malformed deployments tree";
		}
	}
	if ((why = diff(pk, a, &l, out, n)) != NULL) {
		free(l.v);
		free(*out);
		*out = NULL;
		*n = 0;
		return why;
	}
	free(a->deps);
	a->deps = l.v;
	a->ndeps = l.n;
	snprintf(a->deps_tree, sizeof(a->deps_tree), "%s", f.found ? f.oid : "");
keep:
	memcpy(a->tree, tree, sizeof(a->tree));
	return NULL;
}
