/* Git trees and commits built in memory (no repository, no files): what desired.c needs to
 * make one commit per change of a device's desired state. Object ids are binary SHA-1
 * (GIT_TREE_OID_LEN bytes, as git_oid.h handles them). */
#ifndef WFMD_GIT_TREE_H
#define WFMD_GIT_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"

#define GIT_TREE_OID_LEN 20
#define GIT_MODE_FILE "100644"
#define GIT_MODE_TREE "40000"

/* The id of an object of type ("blob", "tree", "commit") with content data. */
int git_tree_oid(const char *type, const void *data, size_t len,
		 unsigned char oid[GIT_TREE_OID_LEN], struct margo_error *err);

/* The entry name of tree (content, len bytes): 0 with its oid (and mode, 8 bytes, may be
 * NULL), MARGO_ENOTFOUND, or MARGO_EIO when the tree is malformed. */
int git_tree_find(const unsigned char *tree, size_t len, const char *name,
		  unsigned char oid[GIT_TREE_OID_LEN], char mode[8]);

/* A copy of tree with entry name set to (mode, oid), or removed when oid is NULL, in Git's
 * entry order (names compared bytewise, a tree's name as if it ended in '/'). *out newly
 * allocated (caller frees; an empty tree is *out_len 0, *out non-NULL). *found tells whether
 * name was there. MARGO_EIO for a malformed tree. */
int git_tree_edit(const unsigned char *tree, size_t len, const char *name, const char *mode,
		  const unsigned char *oid, unsigned char **out, size_t *out_len, int *found,
		  struct margo_error *err);

/* The content of a commit of tree with parent (NULL: a root commit), author and committer
 * ident ("Name <email>") at time t (UTC), and message (a newline is added). *out newly
 * allocated (caller frees). */
int git_commit_build(const unsigned char tree[GIT_TREE_OID_LEN],
		     const unsigned char *parent, const char *ident, int64_t t,
		     const char *message, char **out, size_t *out_len, struct margo_error *err);

/* The tree id a commit's content names (its first line). MARGO_EIO when malformed. */
int git_commit_tree(const char *commit, size_t len, unsigned char tree[GIT_TREE_OID_LEN]);

#endif
