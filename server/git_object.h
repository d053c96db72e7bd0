/* Git loose objects written directly (SHA-1 repositories): the object id is the SHA-1 of
 * "<type> <size>\0<content>", the file objects/<2 hex>/<38 hex> its zlib stream. Used to
 * create device repositories without running git (repo.c). */
#ifndef WFMD_GIT_OBJECT_H
#define WFMD_GIT_OBJECT_H

#include <stddef.h>

#include "margo/error.h"

/* Computes the id of an object of type ("blob", "tree", "commit") with content data into
 * oid (40 lower-case hex digits and a NUL). */
int git_object_id(const char *type, const void *data, size_t len, char oid[41],
		  struct margo_error *err);

/* Writes the object into objects_dir (the repository's objects/ directory) as a new
 * read-only loose object, fsync()ed together with its fan-out directory when sync is set,
 * and puts its id into oid. An existing object with that id is kept (same content by
 * definition). */
int git_object_write(const char *objects_dir, const char *type, const void *data, size_t len,
		     int sync, char oid[41], struct margo_error *err);

/* Reads the loose object oid from objects_dir: type ("commit", ...) and content (newly
 * allocated, NUL-terminated past *len; caller frees), its id checked. MARGO_ENOTFOUND when
 * there is no loose object (missing, or packed), MARGO_ETOOBIG past max bytes of content,
 * MARGO_EIO when it does not inflate or does not hash to oid. */
int git_object_read(const char *objects_dir, const char *oid, char type[16], char **data,
		    size_t *len, size_t max, struct margo_error *err);

/* Opens, fsync()s and closes path (a file or a directory). */
int git_fsync_path(const char *path, struct margo_error *err);

#endif
