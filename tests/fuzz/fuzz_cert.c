/* libFuzzer target for margo_cert_parse (certificate fields from untrusted clients: PEM,
 * base64 of PEM, base64 of DER) and margo_base64_decode. Build by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_cert.c \
 *     lib/cert.c lib/base64.c lib/error.c -lcrypto -o fuzz_cert */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct margo_error err;
	unsigned char *out = NULL;
	size_t out_len;
	X509 *cert = NULL;
	char fp[MARGO_FINGERPRINT_LEN];

	if (margo_base64_decode((const char *)data, size, &out, &out_len) == 0)
		free(out);
	if (margo_cert_parse((const char *)data, size, &cert, &err) == 0) {
		margo_cert_fingerprint(cert, fp);
		X509_free(cert);
	}
	return 0;
}
