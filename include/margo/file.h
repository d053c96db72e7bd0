/* Files: atomic writes and bounded reads. */
#ifndef MARGO_FILE_H
#define MARGO_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "margo/error.h"

/* Writes len bytes to path atomically: a temporary file in the same directory created with
 * mode, written, fsync()ed, renamed over path, then the directory fsync()ed. A crash at any
 * point leaves either the old file or the new one. */
int margo_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			    struct margo_error *err);

/* Reads the whole file into a newly allocated buffer (caller frees; NUL-terminated past
 * *len). MARGO_ETOOBIG when it is larger than max bytes, MARGO_ENOTFOUND when missing. */
int margo_file_read(const char *path, size_t max, char **data, size_t *len,
		    struct margo_error *err);

/* mkdir -p with mode for the directories it creates. */
int margo_dir_create(const char *path, mode_t mode, struct margo_error *err);

#endif
