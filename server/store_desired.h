/* The store interface, continued (store.h): the desired state as Git objects and references.
 * Objects (commit, tree, blob) are content-addressed by their SHA-1 object id and stored once
 * for all devices; a device's refs/heads/main is its row in repos (store_repo_revision_get:
 * the desired-state revision IS the reference, one source of truth). desired.h builds the
 * objects; this interface only keeps them. */
#ifndef WFMD_STORE_DESIRED_H
#define WFMD_STORE_DESIRED_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_OID_LEN 20        /* binary SHA-1 object id */

/* Object types as Git numbers them in packs (git_source.h uses the same values). */
enum store_object_type {
	STORE_OBJECT_COMMIT = 1,
	STORE_OBJECT_TREE = 2,
	STORE_OBJECT_BLOB = 3,
	STORE_OBJECT_TAG = 4,
};

struct store_object {
	unsigned char oid[STORE_OID_LEN];
	int type;                       /* enum store_object_type */
	const void *data;               /* content without the "<type> <size>\0" header */
	size_t len;
};

enum store_desired_op {
	STORE_DESIRED_KEEP = 0,         /* deployment rows unchanged */
	STORE_DESIRED_PUT,              /* insert or update the row of deployment_id */
	STORE_DESIRED_REMOVE,           /* delete the row of deployment_id */
};

/* One change of a device's desired state: new objects, the reference moved from old_rev to
 * new_rev, and the deployment row, all in one transaction. */
struct store_desired_change {
	const char *device_id;
	/* The reference's expected value (compare-and-swap): a commit id, NULL for "must not
	 * exist yet" (creation), or STORE_REF_ANY to set it whatever it is (import). */
	const char *old_rev;
	const char *new_rev;            /* 40 hex digits */
	const struct store_object *objects;
	size_t nobjects;                /* objects already stored are skipped */
	enum store_desired_op op;
	const char *deployment_id;      /* PUT, REMOVE */
	const char *name;               /* PUT: metadata.name */
	const char *application_id;     /* PUT */
	int64_t now;
};

#define STORE_REF_ANY "*"

/* Applies change atomically. MARGO_ECONFLICT (nothing written) when the reference is not at
 * old_rev (another writer moved it, or it already exists for a creation); MARGO_ENOTFOUND
 * when the device does not exist, or for a REMOVE that neither moves the reference nor finds
 * the row. */
int store_desired_commit(store *st, const struct store_desired_change *change,
			 struct margo_error *err);

/* Reads object oid: *type and its content (newly allocated, NUL-terminated past *len; caller
 * frees). MARGO_ENOTFOUND when the store has no such object. */
int store_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		     unsigned char **data, size_t *len, struct margo_error *err);

struct store_object_stats {
	int64_t objects;                /* objects stored */
	int64_t bytes;                  /* their content, bytes */
	int64_t refs;                   /* devices with a reference */
};
int store_object_stats(store *st, struct store_object_stats *out, struct margo_error *err);

#endif
