/* libFuzzer target for the structured-field parsing behind RFC 9421 verification and
 * RFC 9530 Content-Digest. Input: Signature-Input, Signature and Content-Digest values
 * separated by newlines. Build by hand (not part of the CMake build):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_httpsig.c \
 *     lib/httpsig.c lib/base64.c lib/error.c -lcrypto -o fuzz_httpsig */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "margo/error.h"
#include "margo/httpsig.h"

static const char *resolve(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "@method") == 0)
		return "POST";
	if (strcmp(name, "@target-uri") == 0)
		return "https://127.0.0.1:8443/onboarding/";
	if (strcmp(name, "content-digest") == 0)
		return "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	struct margo_httpsig_result res;
	struct margo_error err;
	char *text, *fields[3] = { "", "", "" }, *p;
	int i;

	if (key == NULL)
		key = EVP_EC_gen("P-256");
	text = malloc(size + 1);
	if (text == NULL || key == NULL) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	for (i = 0, p = text; i < 3 && p != NULL; i++) {
		fields[i] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	margo_httpsig_verify(key, fields[0], fields[1], NULL, NULL, 0, resolve, NULL, &res, &err);
	margo_content_digest_verify(fields[2], "", 0, &err);
	free(text);
	return 0;
}
