/* Per-device desired-state repositories: bare Git repositories under DIR/repos, written only
 * by wfmd: created natively (git_object.h: the first commit as loose objects, built in a
 * temporary directory and renamed into place), changed through git plumbing subprocesses (no
 * shell). Served read-only by wfmd itself (git_upload.h over repo_source.h), no git process.
 * Writes are serialised. */
#ifndef WFMD_REPO_H
#define WFMD_REPO_H

#include <stddef.h>

#include "margo/error.h"
#include "store.h"

#define REPO_BRANCH "main"
#define REPO_AUTHOR_NAME "margo-fleet WFM"
#define REPO_AUTHOR_EMAIL "wfm@margo-fleet.invalid"
#define REPO_INIT_MESSAGE "Initialise desired state"
/* A git subprocess is killed after this many seconds. */
#define REPO_GIT_TIMEOUT 60

/* Called, with the write lock held, each time main moves (creation included), so a cache of
 * the revision (the store) never goes backwards. */
typedef void (*repo_commit_hook_fn)(void *ctx, const char *device_id, const char *rev);
void repo_set_commit_hook(repo_commit_hook_fn fn, void *ctx);

/* Creates root (mode 0700) when missing and removes what a crash left there. Call before
 * serving. */
int repo_root_init(const char *root, struct margo_error *err);

/* Makes sure the device's repository exists with a main branch (creating it with the first,
 * empty commit when missing) and writes main's commit id into rev. *created (may be NULL) is
 * set to 1 when it was created now. */
int repo_ensure(const char *root, const char *device_id, char rev[STORE_REVISION_LEN],
		int *created, struct margo_error *err);

/* Writes path (inside the repository, e.g. "deployments/x.yaml") with data on main in one
 * commit with message; rev gets the new commit id (unchanged when the content was already
 * the same: *changed = 0). */
int repo_put_file(const char *root, const char *device_id, const char *path, const char *data,
		  size_t len, const char *message, char rev[STORE_REVISION_LEN], int *changed,
		  struct margo_error *err);

/* Removes path from main in one commit. MARGO_ENOTFOUND when it is not there. */
int repo_remove_file(const char *root, const char *device_id, const char *path,
		     const char *message, char rev[STORE_REVISION_LEN], struct margo_error *err);

#endif
