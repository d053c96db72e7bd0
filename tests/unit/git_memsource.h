/* An in-memory git_source for the Git protocol unit tests: objects made here (ids computed
 * with git_tree_oid), main set by the test, reads counted. */
#ifndef TEST_GIT_MEMSOURCE_H
#define TEST_GIT_MEMSOURCE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_tree.h"
#include "git_oid.h"
#include "git_source.h"

#define MEM_OBJECTS_MAX 16384

struct mem_object {
	unsigned char oid[GIT_SOURCE_OID_LEN];
	int type;
	unsigned char *data;
	size_t len;
};

struct mem_source {
	struct mem_object *objs;
	size_t n;
	unsigned char main[GIT_SOURCE_OID_LEN];
	int has_main;
	size_t reads;
};

static inline void mem_init(struct mem_source *m)
{
	memset(m, 0, sizeof(*m));
	m->objs = calloc(MEM_OBJECTS_MAX, sizeof(*m->objs));
}

static inline void mem_free(struct mem_source *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->objs[i].data);
	free(m->objs);
}

static inline struct mem_object *mem_find(struct mem_source *m, const unsigned char *oid)
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(m->objs[i].oid, oid, GIT_SOURCE_OID_LEN) == 0)
			return &m->objs[i];
	return NULL;
}

/* Adds an object (kept once) and returns its id in oid. */
static inline void mem_add(struct mem_source *m, int type, const void *data, size_t len,
			   unsigned char oid[GIT_SOURCE_OID_LEN])
{
	static const char *const names[] = { "", "commit", "tree", "blob", "tag" };
	struct mem_object *o;

	if (git_tree_oid(names[type], data, len, oid, NULL) < 0)
		abort();
	if (mem_find(m, oid) != NULL)
		return;
	if (m->n == MEM_OBJECTS_MAX)
		abort();
	o = &m->objs[m->n++];
	memcpy(o->oid, oid, GIT_SOURCE_OID_LEN);
	o->type = type;
	o->data = malloc(len + 1);
	memcpy(o->data, data, len);
	o->len = len;
}

static inline void mem_blob(struct mem_source *m, const char *text, unsigned char oid[20])
{
	mem_add(m, GIT_SOURCE_BLOB, text, strlen(text), oid);
}

/* A tree of up to 8 entries given in git's order: mode, name, oid. */
struct mem_entry {
	const char *mode;
	const char *name;
	const unsigned char *oid;
};

static inline void mem_tree(struct mem_source *m, const struct mem_entry *e, size_t n,
			    unsigned char oid[20])
{
	unsigned char buf[2048];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		len += (size_t)sprintf((char *)buf + len, "%s %s", e[i].mode, e[i].name) + 1;
		memcpy(buf + len, e[i].oid, 20);
		len += 20;
	}
	mem_add(m, GIT_SOURCE_TREE, buf, len, oid);
}

static inline void mem_commit(struct mem_source *m, const unsigned char *tree,
			      const unsigned char *parent, long long when, const char *msg,
			      unsigned char oid[20])
{
	char buf[1024], th[41], ph[41];
	int n;

	git_oid_to_hex(tree, th);
	n = sprintf(buf, "tree %s\n", th);
	if (parent != NULL) {
		git_oid_to_hex(parent, ph);
		n += sprintf(buf + n, "parent %s\n", ph);
	}
	n += sprintf(buf + n, "author T <t@example.com> %lld +0000\ncommitter T <t@example.com> "
		     "%lld +0000\n\n%s\n", when, when, msg);
	mem_add(m, GIT_SOURCE_COMMIT, buf, (size_t)n, oid);
}

static int mem_ref(void *ctx, const char *name, unsigned char oid[GIT_SOURCE_OID_LEN],
		   struct margo_error *err)
{
	struct mem_source *m = ctx;

	if (strcmp(name, "main") != 0 || !m->has_main)
		return margo_error_set(err, MARGO_ENOTFOUND, "no %s", name);
	memcpy(oid, m->main, GIT_SOURCE_OID_LEN);
	return 0;
}

static int mem_read(void *ctx, const unsigned char oid[GIT_SOURCE_OID_LEN], int *type,
		    unsigned char **data, size_t *len, struct margo_error *err)
{
	struct mem_source *m = ctx;
	struct mem_object *o = mem_find(m, oid);

	m->reads++;
	if (o == NULL)
		return margo_error_set(err, MARGO_ENOTFOUND, "no object");
	*type = o->type;
	*data = malloc(o->len + 1);
	memcpy(*data, o->data, o->len);
	(*data)[o->len] = '\0';
	*len = o->len;
	return 0;
}

static void mem_close(void *ctx)
{
	(void)ctx;
}

static inline struct git_source mem_source_of(struct mem_source *m)
{
	struct git_source s = { m, mem_ref, mem_read, mem_close };

	return s;
}

/* A linear history like a device's: commit i (0-based, time 1700000000 + 100 i) has
 * deployments/d<i>.yaml added (commit 0: the empty tree). Returns the commits in hist. */
static inline void mem_history(struct mem_source *m, size_t n, unsigned char (*hist)[20])
{
	static const unsigned char none[20];
	unsigned char blobs[64][20], dir[20], root[20], empty[20];
	struct mem_entry files[64], top;
	char name[32][64], text[64];
	size_t nfiles = 0;

	(void)none;
	mem_add(m, GIT_SOURCE_TREE, "", 0, empty);
	mem_commit(m, empty, NULL, 1700000000, "Initialise desired state", hist[0]);
	for (size_t i = 1; i < n; i++) {
		/* at most 8 files: each commit replaces the oldest once 8 exist */
		size_t slot = nfiles < 8 ? nfiles++ : (i - 1) % 8;

		snprintf(name[slot], sizeof(name[slot]), "d%zu.yaml", slot);
		snprintf(text, sizeof(text), "version: %zu\n", i);
		mem_blob(m, text, blobs[slot]);
		for (size_t k = 0; k < nfiles; k++)
			files[k] = (struct mem_entry){ "100644", name[k], blobs[k] };
		mem_tree(m, files, nfiles, dir);
		top = (struct mem_entry){ "40000", "deployments", dir };
		mem_tree(m, &top, 1, root);
		snprintf(text, sizeof(text), "Deploy %zu", i);
		mem_commit(m, root, hist[i - 1], 1700000000 + 100 * (long long)i, text, hist[i]);
	}
	memcpy(m->main, hist[n - 1], 20);
	m->has_main = 1;
}

#endif
