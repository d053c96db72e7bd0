/* Lower-case hex encoding (fingerprints, token hashes, git object ids). */
#ifndef MARGO_HEX_H
#define MARGO_HEX_H

#include <stddef.h>

/* Writes the 2 * len lower-case hex digits of in and a NUL to out. */
void margo_hex_lower(const unsigned char *in, size_t len, char *out);

#endif
