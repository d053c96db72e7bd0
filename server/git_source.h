/* A read-only source of one device repository's Git objects and its main reference: what the
 * Git protocol code (info/refs, ls-refs, fetch, the pack writer) reads from, wherever the
 * objects live (the store; during the move, bare repositories on disk). The protocol code
 * knows nothing else about storage, and the storage knows nothing about the protocol.
 *
 * A source is opened for one request (one device) and closed with git_source_close. Its
 * functions are called from that request's thread only, possibly from a streaming callback
 * after the handler returned; they may block on the store. Object ids are binary SHA-1
 * (GIT_SOURCE_OID_LEN bytes). */
#ifndef WFMD_GIT_SOURCE_H
#define WFMD_GIT_SOURCE_H

#include <stddef.h>

#include "margo/error.h"

#define GIT_SOURCE_OID_LEN 20

enum git_source_type {
	GIT_SOURCE_COMMIT = 1,
	GIT_SOURCE_TREE = 2,
	GIT_SOURCE_BLOB = 3,
	GIT_SOURCE_TAG = 4,
};

struct git_source {
	void *ctx;
	/* The object id refs/heads/<name> (name "main") points to. MARGO_ENOTFOUND when the
	 * repository or the reference does not exist. HEAD is always a symbolic reference to
	 * refs/heads/main. */
	int (*ref)(void *ctx, const char *name, unsigned char oid[GIT_SOURCE_OID_LEN],
		   struct margo_error *err);
	/* Reads object oid: *type, and its content (without the "<type> <size>\0" header) in
	 * *data, newly allocated (free()), *len bytes, NUL-terminated past *len.
	 * MARGO_ENOTFOUND when the object does not exist. */
	int (*read)(void *ctx, const unsigned char oid[GIT_SOURCE_OID_LEN], int *type,
		    unsigned char **data, size_t *len, struct margo_error *err);
	/* Frees ctx. */
	void (*close)(void *ctx);
};

/* Closes src (when open) and clears it; safe on a cleared source. */
static inline void git_source_close(struct git_source *src)
{
	if (src->close != NULL)
		src->close(src->ctx);
	src->ctx = NULL;
	src->ref = NULL;
	src->read = NULL;
	src->close = NULL;
}

#endif
