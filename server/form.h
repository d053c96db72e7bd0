/* Parsers for the token endpoint's inputs: application/x-www-form-urlencoded bodies and HTTP
 * Basic credentials (RFC 7617, with RFC 6749 section 2.3.1's form-encoding inside). */
#ifndef WFMD_FORM_H
#define WFMD_FORM_H

#include <stddef.h>

#include "margo/error.h"

struct form_field {
	char *name;
	char *value;
};

struct form {
	struct form_field *fields;
	size_t n;
};

#define FORM_MAX_FIELDS 32

/* Parses name=value pairs separated by '&' ('+' is a space, %XX an octet). Empty pairs are
 * skipped; a pair without '=' has the empty value. MARGO_EINVAL on a bad escape, a NUL octet or
 * more than FORM_MAX_FIELDS fields. form_clear() releases (and wipes) out even on failure. */
int form_parse(const char *body, size_t len, struct form *out, struct margo_error *err);

/* The value of name (NULL when absent); *count (when not NULL) gets how often it appears. */
const char *form_get(const struct form *f, const char *name, size_t *count);

/* Wipes and frees the fields. */
void form_clear(struct form *f);

/* Decodes len bytes of form encoding into a new NUL-terminated string (caller frees).
 * MARGO_EINVAL on a bad escape or a decoded NUL. */
int form_decode(const char *in, size_t len, char **out);

/* Parses an Authorization header value "Basic <base64(id:secret)>" (scheme case-insensitive);
 * id and secret are form-decoded. *id and *secret are newly allocated (free the secret with
 * margo_secret_free). MARGO_ENOTFOUND when the scheme is not Basic, MARGO_EINVAL when
 * malformed. */
int form_basic_parse(const char *authorization, char **id, char **secret,
		     struct margo_error *err);

#endif
