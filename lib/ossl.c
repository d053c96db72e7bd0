/* OpenSSL error reporting shared inside libmargo (see ossl.h). */
#include <openssl/err.h>
#include "margo/error.h"
#include "ossl.h"

int margo_ossl_error(struct margo_error *err, int code, const char *msg)
{
	unsigned long e = ERR_peek_last_error();
	char buf[200];

	if (e == 0) {
		margo_error_set(err, code, "%s", msg);
	} else {
		ERR_error_string_n(e, buf, sizeof(buf));
		margo_error_set(err, code, "%s: %s", msg, buf);
	}
	ERR_clear_error();
	return code;
}
