/* Per-device desired-state repositories: bare Git repositories under DIR/repos, written only
 * by wfmd: created natively (git_object.h: the first commit as loose objects, built in a
 * temporary directory and renamed into place), changed through git plumbing subprocesses (no
 * shell). Served read-only: reference advertisements, v2 ls-refs and the initial commit's pack
 * natively (git_serve.h), everything else through `git upload-pack --stateless-rpc`. Writes are serialised. */
#ifndef WFMD_REPO_H
#define WFMD_REPO_H

#include <stddef.h>

#include "margo/error.h"
#include "store.h"

#define REPO_BRANCH "main"
#define REPO_AUTHOR_NAME "margo-fleet WFM"
#define REPO_AUTHOR_EMAIL "wfm@margo-fleet.invalid"
#define REPO_INIT_MESSAGE "Initialise desired state"
/* Output of one upload-pack run kept in memory at most. */
#define REPO_PACK_MAX (64u * 1024u * 1024u)
/* A git subprocess is killed after this many seconds. */
#define REPO_GIT_TIMEOUT 60

/* Called, with the write lock held, each time main moves (creation included), so a cache of
 * the revision (the store) never goes backwards. */
typedef void (*repo_commit_hook_fn)(void *ctx, const char *device_id, const char *rev);
void repo_set_commit_hook(repo_commit_hook_fn fn, void *ctx);

/* Creates root (mode 0700) when missing, and learns git upload-pack's capabilities from a
 * probe repository made and removed there (git_serve_learn; on failure, with a warning, every
 * git request runs upload-pack). Call before serving. */
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

/* The answer of `git upload-pack --stateless-rpc [--advertise-refs]` on the device's
 * repository with input on stdin (NULL/0 for none) and protocol as GIT_PROTOCOL (NULL: none):
 * generated without a process for the advertisement (protocol NULL or "version=2"), a v2
 * ls-refs request and the first v2 fetch of a new repository (git_serve.h), else by running
 * upload-pack. *out gets the
 * output (newly allocated, NUL-terminated past *out_len). MARGO_ENOTFOUND when the repository
 * does not exist, MARGO_ETOOBIG past REPO_PACK_MAX. */
int repo_upload_pack(const char *root, const char *device_id, int advertise,
		     const char *protocol, const void *input, size_t input_len, char **out,
		     size_t *out_len, struct margo_error *err);

#endif
