/* Error codes and error messages shared by every margo-fleet module. */
#ifndef MARGO_ERROR_H
#define MARGO_ERROR_H

#include <stdarg.h>

/* Every fallible function returns 0 (MARGO_OK) or one of these negative codes. */
enum margo_err {
	MARGO_OK = 0,
	MARGO_ENOMEM = -1,     /* allocation failed */
	MARGO_EINVAL = -2,     /* malformed input (caller's or peer's) */
	MARGO_EIO = -3,        /* file or socket I/O failed */
	MARGO_ECRYPTO = -4,    /* OpenSSL operation failed */
	MARGO_ENOTFOUND = -5,  /* no such object */
	MARGO_EEXIST = -6,     /* object already exists */
	MARGO_EAUTH = -7,      /* authentication failed (bad secret, bad signature) */
	MARGO_EFORBIDDEN = -8, /* authenticated but not allowed */
	MARGO_ECONFLICT = -9,  /* state conflict */
	MARGO_ELIMIT = -10,    /* a bound was reached (queue full, too many) */
	MARGO_ETOOBIG = -11,   /* input larger than its named limit */
	MARGO_EEXPIRED = -12,  /* token, request or certificate expired */
	MARGO_ESTORE = -13,    /* database error */
	MARGO_ENET = -14,      /* network error (connect, TLS, timeout) */
	MARGO_EPROTO = -15,    /* peer spoke the protocol wrongly */
	MARGO_EUNSUPPORTED = -16, /* algorithm, media type or feature not supported */
};

#define MARGO_ERROR_MSG_MAX 512

/* A human-readable reason, filled by the callee, owned by the caller (usually on its stack). */
struct margo_error {
	int code;
	char message[MARGO_ERROR_MSG_MAX];
};

/* Sets err (when not NULL) to code and a printf-style message. Returns code, so callers can
 * write `return margo_error_set(err, MARGO_EINVAL, "bad %s", what);`. */
int margo_error_set(struct margo_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clears err (when not NULL). */
void margo_error_clear(struct margo_error *err);

/* A static, lowercase description of a code ("out of memory", "invalid input", ...). */
const char *margo_strerror(int code);

#endif
