/* A copy of each device's repository on disk (DIR/git-cache/<id>.git, bare), kept only for
 * serving: until the Git server reads the store itself (git_source.h), git upload-pack
 * serves this copy, brought up to the store by repo_sync before each request. The store
 * (desired.h) is the only truth; the copy may be deleted at any time. Reference
 * advertisements, v2 ls-refs and the initial commit's pack are answered natively
 * (git_serve.h), everything else through `git upload-pack --stateless-rpc`. */
#ifndef WFMD_REPO_H
#define WFMD_REPO_H

#include <stddef.h>

#include "margo/error.h"
#include "git_source.h"
#include "store.h"

#define REPO_BRANCH "main"
#define REPO_AUTHOR_NAME "margo-fleet WFM"
#define REPO_AUTHOR_EMAIL "wfm@margo-fleet.invalid"
#define REPO_INIT_MESSAGE "Initialise desired state"
/* Output of one upload-pack run kept in memory at most. */
#define REPO_PACK_MAX (64u * 1024u * 1024u)
/* A git subprocess is killed after this many seconds. */
#define REPO_GIT_TIMEOUT 60

/* Creates root (mode 0700) when missing, and learns git upload-pack's capabilities from a
 * probe repository made and removed there (git_serve_learn; on failure, with a warning, every
 * git request runs upload-pack). Call before serving. */
int repo_root_init(const char *root, struct margo_error *err);

/* Brings the device's copy up to src's main (creating it when missing): the objects it
 * lacks written, then main moved. */
int repo_sync(const char *root, const char *device_id, struct git_source *src,
	      struct margo_error *err);

/* Writing a repository with git (what wfmd 0.1 did; now only test_server_git_serve
 * makes its fixtures so, until git_serve.c goes). Makes sure the device's repository exists with a main branch (creating it with the first,
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
