/* Git object ids (binary SHA-1, GIT_SOURCE_OID_LEN bytes) as the protocol code handles them:
 * hex conversion, and an id map (open addressing) used as the set of objects a fetch has
 * seen, sent or excluded, with a small value per id (flags, an index). */
#ifndef WFMD_GIT_OID_H
#define WFMD_GIT_OID_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"
#include "git_source.h"

#define GIT_OID_HEX 40

/* Parses 40 lower-case hex digits at hex (more text may follow) into oid; 0 or -1. */
int git_oid_from_hex(const char *hex, unsigned char oid[GIT_SOURCE_OID_LEN]);
/* Writes the 40 hex digits of oid and a NUL. */
void git_oid_to_hex(const unsigned char oid[GIT_SOURCE_OID_LEN], char hex[GIT_OID_HEX + 1]);

/* A growable list of ids; zero-initialised is empty, free(ids) frees it. */
struct git_oids {
	unsigned char (*ids)[GIT_SOURCE_OID_LEN];
	size_t n;
	size_t cap;
};

/* Appends oid. MARGO_ENOMEM (err set) when out of memory. */
int git_oids_push(struct git_oids *a, const unsigned char oid[GIT_SOURCE_OID_LEN],
		  struct margo_error *err);

struct git_oidmap_entry {
	unsigned char oid[GIT_SOURCE_OID_LEN];
	uint32_t value;
	uint8_t used;
};

/* Zero-initialised is an empty map; free with git_oidmap_free. */
struct git_oidmap {
	struct git_oidmap_entry *slots;
	size_t cap;                     /* a power of two, or 0 */
	size_t n;
};

/* The value slot of oid, or NULL when absent. */
uint32_t *git_oidmap_get(const struct git_oidmap *m, const unsigned char oid[GIT_SOURCE_OID_LEN]);
/* The value slot of oid, added with value 0 when absent (*added = 1; added may be NULL).
 * NULL when out of memory. The pointer is valid until the next insertion. */
uint32_t *git_oidmap_put(struct git_oidmap *m, const unsigned char oid[GIT_SOURCE_OID_LEN],
			 int *added);
void git_oidmap_free(struct git_oidmap *m);

#endif
