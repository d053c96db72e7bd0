/* The desired state of each device: what wfmd wants it to run, kept as a Git history in the
 * store (store_desired.h) and changed only here. Every change is one commit on the device's
 * main branch, made in memory and stored together with the moved reference and the
 * deployment row in one transaction, so after a crash at any point the desired-state revision
 * (which IS the reference) and the deployments agree. Protocol-neutral: the admin API, the
 * onboarding, the rollout engine and the Git server (through desired_git_source) all call
 * this module. The repository holds deployments/<deploymentId>.yaml files. Thread-safe:
 * concurrent changes of one device are serialised by the reference's compare-and-swap. */
#ifndef WFMD_DESIRED_H
#define WFMD_DESIRED_H

#include <stddef.h>

#include "margo/error.h"
#include "git_source.h"
#include "store.h"
#include "store_desired.h"

#define DESIRED_BRANCH "main"
#define DESIRED_AUTHOR "margo-fleet WFM <wfm@margo-fleet.invalid>"
#define DESIRED_INIT_MESSAGE "Initialise desired state"
#define DESIRED_DIR "deployments"

/* The device's current revision (main's commit id, 40 hex digits). MARGO_ENOTFOUND when its
 * repository does not exist yet. */
int desired_revision(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
		     struct margo_error *err);

/* A new repository's first, empty commit, built in memory: .change creates main at .rev when
 * given to store_desired_commit, or to store_onboard (store_onboard_in.repo), which writes it
 * in the onboarding's own transaction. Free with desired_initial_free. */
struct desired_initial {
	struct store_desired_change change;
	struct store_object obj[2];     /* the empty tree and the commit */
	char *commit;                   /* the commit's content (obj[1].data) */
	char rev[STORE_REVISION_LEN];
};
int desired_initial_new(const char *device_id, struct desired_initial *out,
			struct margo_error *err);
void desired_initial_free(struct desired_initial *in);

/* Makes sure the device's repository exists (creating it with the first, empty commit when
 * missing) and writes main's commit id into rev. *created (may be NULL) is set to 1 when it
 * was created now. MARGO_ENOTFOUND when there is no such device. */
int desired_repo_ensure(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			int *created, struct margo_error *err);

/* Puts deployments/<deployment_id>.yaml with yaml on main in one commit with message and
 * records the deployment (name, application_id) in the same transaction; rev gets the new
 * commit id (main's, and *changed = 0, when the file already had this content). */
int desired_put(store *st, const char *device_id, const char *deployment_id, const char *yaml,
		size_t len, const char *name, const char *application_id, const char *message,
		char rev[STORE_REVISION_LEN], int *changed, struct margo_error *err);

/* Removes deployment_id's file and row in one commit with message. MARGO_ENOTFOUND when the
 * device has neither. */
int desired_remove(store *st, const char *device_id, const char *deployment_id,
		   const char *message, char rev[STORE_REVISION_LEN], struct margo_error *err);

/* The YAML of deployment_id on main (newly allocated, NUL-terminated past *len; caller
 * frees). MARGO_ENOTFOUND when there is none. */
int desired_get(store *st, const char *device_id, const char *deployment_id, char **yaml,
		size_t *len, struct margo_error *err);

/* Opens the device's repository as a Git object source (git_source.h) reading the store;
 * close it with git_source_close. The store must outlive it. */
int desired_git_source(store *st, const char *device_id, struct git_source *out,
		       struct margo_error *err);
/* desired_git_source whose main is rev, read by the caller for this request already
 * ("" to read it from the store when asked). */
int desired_git_source_at(store *st, const char *device_id, const char *rev,
			  struct git_source *out, struct margo_error *err);

/* Imports the bare repositories wfmd 0.1 kept under repos_dir (<deviceId>.git, see
 * docs/wfmd.md): every object and main of each, one transaction per device, then renames
 * repos_dir to repos_dir + ".imported". Idempotent, so a start after a crash mid-import
 * finishes it. Run before serving (nothing else may change desired state meanwhile). No-op
 * when repos_dir does not exist. *ndevices (may be NULL) gets the number imported. */
int desired_import(store *st, const char *repos_dir, long *ndevices, struct margo_error *err);

#endif
