/* Base64 in every variant API.md accepts. */
#ifndef MARGO_BASE64_H
#define MARGO_BASE64_H

#include <stddef.h>

enum margo_base64_flags {
	MARGO_BASE64_STD = 0,      /* standard alphabet (+/) */
	MARGO_BASE64_URL = 1 << 0, /* URL-safe alphabet (-_) */
	MARGO_BASE64_NOPAD = 1 << 1, /* omit '=' padding */
};

/* Encodes len bytes. Returns a newly allocated NUL-terminated string (caller frees), or NULL
 * when out of memory. */
char *margo_base64_encode(const void *data, size_t len, int flags);

/* Decodes in_len characters of standard or URL-safe base64, padded or not (the two alphabets
 * may not be mixed in one input; ASCII white space is ignored). On success *out is a newly
 * allocated buffer (caller frees; it holds one extra NUL byte past *out_len) and 0 is
 * returned; MARGO_EINVAL on bad input, MARGO_ENOMEM. */
int margo_base64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len);

#endif
