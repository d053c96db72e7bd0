#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "margo/hex.h"
#include "git_oid.h"
#include "git_tree.h"

int git_tree_oid(const char *type, const void *data, size_t len,
		 unsigned char oid[GIT_TREE_OID_LEN], struct margo_error *err)
{
	char hdr[32];
	unsigned int mdlen = 0;
	int hlen = snprintf(hdr, sizeof(hdr), "%s %zu", type, len) + 1, ok;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	/* The id is the SHA-1 of "<type> <size>\0<content>". */
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		EVP_DigestUpdate(ctx, hdr, (size_t)hlen) == 1 &&
		(len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
		EVP_DigestFinal_ex(ctx, oid, &mdlen) == 1 && mdlen == GIT_TREE_OID_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : margo_error_set(err, MARGO_ECRYPTO, "SHA-1 failed");
}

struct entry {
	const char *mode;
	size_t mode_len;
	const char *name;
	size_t name_len;
	const unsigned char *oid;
};

/* The entry at *p (advanced past it); -1 when malformed. */
static int entry_next(const unsigned char **p, const unsigned char *end, struct entry *e)
{
	const unsigned char *sp = memchr(*p, ' ', (size_t)(end - *p)), *nul;

	if (sp == NULL)
		return -1;
	nul = memchr(sp, '\0', (size_t)(end - sp));
	if (nul == NULL || end - nul < 1 + GIT_TREE_OID_LEN || sp == *p || nul == sp + 1)
		return -1;
	e->mode = (const char *)*p;
	e->mode_len = (size_t)(sp - *p);
	e->name = (const char *)sp + 1;
	e->name_len = (size_t)(nul - sp - 1);
	e->oid = nul + 1;
	*p = nul + 1 + GIT_TREE_OID_LEN;
	return 0;
}

int git_tree_find(const unsigned char *tree, size_t len, const char *name,
		  unsigned char oid[GIT_TREE_OID_LEN], char mode[8])
{
	const unsigned char *p = tree, *end = tree != NULL ? tree + len : tree; /* NULL: empty */
	size_t n = strlen(name);
	struct entry e;

	while (p < end) {
		if (entry_next(&p, end, &e) < 0)
			return MARGO_EIO;
		if (e.name_len == n && memcmp(e.name, name, n) == 0) {
			memcpy(oid, e.oid, GIT_TREE_OID_LEN);
			if (mode != NULL)
				snprintf(mode, 8, "%.*s", (int)(e.mode_len < 7 ? e.mode_len : 7),
					 e.mode);
			return 0;
		}
	}
	return MARGO_ENOTFOUND;
}

/* Git's tree order: bytewise, a tree's name compared as if followed by '/'. */
static int entry_cmp(const char *a, size_t alen, int adir, const char *b, size_t blen, int bdir)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	unsigned ca, cb;

	if (c != 0)
		return c;
	ca = alen > n ? (unsigned char)a[n] : adir ? '/' : 0;
	cb = blen > n ? (unsigned char)b[n] : bdir ? '/' : 0;
	return (int)ca - (int)cb;
}

static void put_entry(unsigned char **w, const char *mode, size_t mode_len, const char *name,
		      size_t name_len, const unsigned char *oid)
{
	memcpy(*w, mode, mode_len);
	*w += mode_len;
	*(*w)++ = ' ';
	memcpy(*w, name, name_len);
	*w += name_len;
	*(*w)++ = '\0';
	memcpy(*w, oid, GIT_TREE_OID_LEN);
	*w += GIT_TREE_OID_LEN;
}

int git_tree_edit(const unsigned char *tree, size_t len, const char *name, const char *mode,
		  const unsigned char *oid, unsigned char **out, size_t *out_len, int *found,
		  struct margo_error *err)
{
	const unsigned char *p = tree, *end = tree != NULL ? tree + len : tree; /* NULL: empty */
	size_t n = strlen(name), ml = mode != NULL ? strlen(mode) : 0;
	int dir = mode != NULL && strcmp(mode, GIT_MODE_TREE) == 0, placed = oid == NULL;
	unsigned char *buf, *w;
	struct entry e;

	*found = 0;
	*out = NULL;
	buf = malloc(len + ml + n + 2 + GIT_TREE_OID_LEN + 1);
	if (buf == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	w = buf;
	while (p < end) {
		int edir, c;

		if (entry_next(&p, end, &e) < 0) {
			free(buf);
			return margo_error_set(err, MARGO_EIO, "malformed tree");
		}
		edir = e.mode_len == 5 && memcmp(e.mode, GIT_MODE_TREE, 5) == 0;
		if (e.name_len == n && memcmp(e.name, name, n) == 0) {
			*found = 1;
			continue;       /* replaced below, or removed */
		}
		c = entry_cmp(name, n, dir, e.name, e.name_len, edir);
		if (!placed && c < 0) {
			put_entry(&w, mode, ml, name, n, oid);
			placed = 1;
		}
		put_entry(&w, e.mode, e.mode_len, e.name, e.name_len, e.oid);
	}
	if (!placed)
		put_entry(&w, mode, ml, name, n, oid);
	*out = buf;
	*out_len = (size_t)(w - buf);
	return 0;
}

int git_commit_build(const unsigned char tree[GIT_TREE_OID_LEN],
		     const unsigned char *parent, const char *ident, int64_t t,
		     const char *message, char **out, size_t *out_len, struct margo_error *err)
{
	char tree_hex[41], parent_line[64] = "";
	int n;

	margo_hex_lower(tree, GIT_TREE_OID_LEN, tree_hex);
	if (parent != NULL) {
		char hex[41];

		margo_hex_lower(parent, GIT_TREE_OID_LEN, hex);
		snprintf(parent_line, sizeof(parent_line), "parent %s\n", hex);
	}
	n = asprintf(out, "tree %s\n%sauthor %s %lld +0000\ncommitter %s %lld +0000\n\n%s\n",
		     tree_hex, parent_line, ident, (long long)t, ident, (long long)t, message);
	if (n < 0) {
		*out = NULL;
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	*out_len = (size_t)n;
	return 0;
}

int git_commit_tree(const char *commit, size_t len, unsigned char tree[GIT_TREE_OID_LEN])
{
	char hex[41];

	if (len < 46 || memcmp(commit, "tree ", 5) != 0 || commit[45] != '\n')
		return MARGO_EIO;
	memcpy(hex, commit + 5, 40);
	hex[40] = '\0';
	return git_oid_from_hex(hex, tree) < 0 ? MARGO_EIO : 0;
}
