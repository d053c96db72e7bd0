/* The references of a bare repository read directly from its files (HEAD, loose refs under
 * refs/, packed-refs), the way git's files backend reads them, for the shapes wfmd writes:
 * HEAD a symbolic reference, every other reference a branch (refs/heads/...) naming an object
 * directly. Anything else (a detached HEAD, tags, peeled entries, nested symbolic references,
 * odd names, more than GIT_REFS_MAX references) is declined with MARGO_EUNSUPPORTED so the
 * caller can ask git itself. No locks: wfmd updates references with git update-ref (lock file,
 * then rename) and git pack-refs writes packed-refs before it prunes loose files, so loose
 * references are read first. */
#ifndef WFMD_GIT_REFS_H
#define WFMD_GIT_REFS_H

#include <stddef.h>

#include "margo/error.h"

#define GIT_OID_HEXLEN 40
#define GIT_REFNAME_MAX 256
#define GIT_REFS_MAX 64

/* 1 when s starts with GIT_OID_HEXLEN lower-case hex digits (an object id, maybe followed by
 * more text). */
int git_oid_hex(const char *s);

struct git_ref {
	char name[GIT_REFNAME_MAX];          /* "refs/heads/main" */
	char oid[GIT_OID_HEXLEN + 1];        /* lower-case hex */
};

struct git_refs {
	char head_target[GIT_REFNAME_MAX];   /* what HEAD points to, e.g. "refs/heads/main" */
	char head_oid[GIT_OID_HEXLEN + 1];   /* HEAD resolved; "" when unborn */
	struct git_ref *refs;                /* sorted by name (strcmp), owned */
	size_t n;
	int shallow;                         /* the repository has a shallow file */
};

/* Reads the references of the bare repository git_dir into refs (free with git_refs_free even
 * on failure). MARGO_ENOTFOUND when git_dir has no HEAD, MARGO_EUNSUPPORTED for a shape
 * outside the one described above, MARGO_EIO/MARGO_ENOMEM otherwise. */
int git_refs_read(const char *git_dir, struct git_refs *refs, struct margo_error *err);

/* The reference called name in refs, or NULL. */
const struct git_ref *git_refs_find(const struct git_refs *refs, const char *name);

void git_refs_free(struct git_refs *refs);

#endif
