/* Private to libmargo: OpenSSL error reporting shared by cert.c and httpsig.c. */
#ifndef MARGO_LIB_OSSL_H
#define MARGO_LIB_OSSL_H

#include "margo/error.h"

/* Sets err with msg followed by the last OpenSSL error, clears OpenSSL's queue and
 * returns code. */
int margo_ossl_error(struct margo_error *err, int code, const char *msg);

#endif
