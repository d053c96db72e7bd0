#include <stdio.h>
#include <string.h>

#include "margo/error.h"

int margo_error_set(struct margo_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void margo_error_clear(struct margo_error *err)
{
	if (err == NULL)
		return;
	err->code = MARGO_OK;
	err->message[0] = '\0';
}

const char *margo_strerror(int code)
{
	switch (code) {
	case MARGO_OK: return "success";
	case MARGO_ENOMEM: return "out of memory";
	case MARGO_EINVAL: return "invalid input";
	case MARGO_EIO: return "input/output error";
	case MARGO_ECRYPTO: return "cryptographic operation failed";
	case MARGO_ENOTFOUND: return "not found";
	case MARGO_EEXIST: return "already exists";
	case MARGO_EAUTH: return "authentication failed";
	case MARGO_EFORBIDDEN: return "forbidden";
	case MARGO_ECONFLICT: return "conflict";
	case MARGO_ELIMIT: return "limit reached";
	case MARGO_ETOOBIG: return "too large";
	case MARGO_EEXPIRED: return "expired";
	case MARGO_ESTORE: return "database error";
	case MARGO_ENET: return "network error";
	case MARGO_EPROTO: return "protocol error";
	case MARGO_EUNSUPPORTED: return "not supported";
	default: return "unknown error";
	}
}
