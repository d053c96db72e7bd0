/* Reading the content of Git commit and tree objects (as a git_source returns them, without
 * the "<type> <size>" header): what the fetch walk needs from them. */
#ifndef WFMD_GIT_PARSE_H
#define WFMD_GIT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"
#include "git_source.h"

#define GIT_PARENTS_MAX 16

struct git_commit_info {
	unsigned char tree[GIT_SOURCE_OID_LEN];
	unsigned char parents[GIT_PARENTS_MAX][GIT_SOURCE_OID_LEN];
	size_t nparents;
	int64_t time;                   /* committer time, seconds since the epoch */
};

/* Parses a commit's tree, parents and committer time. MARGO_EINVAL when malformed (or more
 * than GIT_PARENTS_MAX parents). */
int git_commit_parse(const unsigned char *data, size_t len, struct git_commit_info *out,
		     struct margo_error *err);

#define GIT_MODE_TREE 040000u
#define GIT_MODE_GITLINK 0160000u

struct git_tree_entry {
	unsigned mode;                  /* 0100644, 0100755, 0120000, GIT_MODE_TREE, ... */
	const char *name;               /* not NUL-terminated: name_len bytes */
	size_t name_len;
	const unsigned char *oid;       /* GIT_SOURCE_OID_LEN bytes inside the tree's data */
};

struct git_tree_iter {
	const unsigned char *p;
	const unsigned char *end;
};

void git_tree_iter_init(struct git_tree_iter *it, const unsigned char *data, size_t len);
/* The next entry: 1, 0 at the end, MARGO_EINVAL when the tree is malformed. */
int git_tree_next(struct git_tree_iter *it, struct git_tree_entry *e, struct margo_error *err);

#endif
