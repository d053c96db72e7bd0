/* A pack (gitformat-pack(5), version 2) of whole, undeltified objects read one at a time
 * from a git_source and written out in pieces as the reader asks for them: the "PACK"
 * header with the object count, each object's type-and-size header and zlib stream, and
 * the SHA-1 of everything before as the trailer.
 *
 * Memory: the list of object ids (20 bytes each), the content of the one object being
 * written, and a small zlib stream (windowBits 12, memLevel 5: about 40 KiB). */
#ifndef WFMD_GIT_PACK_H
#define WFMD_GIT_PACK_H

#include <stddef.h>
#include <sys/types.h>

#include "margo/error.h"
#include "git_request.h"
#include "git_source.h"

struct git_pack;

/* A writer for objects (taken over: *objects is cleared) read from src (borrowed: it must
 * outlive the writer). */
int git_pack_new(struct git_source *src, struct git_oids *objects, struct git_pack **out,
		 struct margo_error *err);

/* Writes the next at most max (> 0) bytes of the pack into buf: the number written, 0 once
 * the pack is complete, or a negative error (an object missing or unreadable: the pack
 * cannot be finished). */
ssize_t git_pack_read(struct git_pack *p, unsigned char *buf, size_t max,
		      struct margo_error *err);

/* Objects written so far and bytes of pack written so far. */
size_t git_pack_objects_done(const struct git_pack *p);
size_t git_pack_bytes_done(const struct git_pack *p);

/* NULL: no-op. */
void git_pack_free(struct git_pack *p);

#endif
