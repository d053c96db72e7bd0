#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "margo/base64.h"
#include "margo/camac.h"
#include "margo/cert.h"
#include "margo/token.h"

#define TOKEN "wfmet_test"
/* Known answers computed with the OpenSSL command line, independently of lib/camac.c:
 *   openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt key:wfmet_test \
 *       -kdfopt "info:margo enrollment-token lookup v1" HKDF      (then base64url)
 *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt key:wfmet_test \
 *       -kdfopt "info:margo ca-mac v1" HKDF */
#define TOKEN_LOOKUP "MRxQtpM3FJDZm9RXYuH4bQ"
static const unsigned char token_key[32] = {
	0x21, 0x39, 0xE2, 0x58, 0x93, 0xDC, 0x61, 0x66, 0xD1, 0x73, 0x6D, 0x55, 0x08, 0x20, 0xBF,
	0xC8, 0xD1, 0x02, 0x36, 0x75, 0x1F, 0x0A, 0x4E, 0xAB, 0xCF, 0x29, 0x0C, 0xF2, 0xF1, 0x75,
	0x1E, 0x22,
};

static X509 *new_ca(const char *cn)
{
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;

	assert_int_equal(margo_key_generate_p256(&key, NULL), 0);
	assert_int_equal(margo_cert_create_ca(key, cn, 30, &ca, NULL), 0);
	EVP_PKEY_free(key);
	return ca;
}

static void test_lookup_known_answer(void **state)
{
	char lookup[MARGO_TOKEN_LOOKUP_LEN];

	(void)state;
	assert_int_equal(margo_token_lookup(TOKEN, lookup, NULL), 0);
	assert_string_equal(lookup, TOKEN_LOOKUP);
}

/* The MAC is HMAC-SHA256 under the HKDF key over the CA's DER, base64url. */
static void test_mac_known_key(void **state)
{
	X509 *ca = new_ca("test CA");
	unsigned char *der = NULL, want[32];
	unsigned int want_len = 0;
	char mac[MARGO_CA_MAC_LEN], *b64;
	int der_len = i2d_X509(ca, &der);

	(void)state;
	assert_true(der_len > 0);
	assert_non_null(HMAC(EVP_sha256(), token_key, sizeof(token_key), der, (size_t)der_len,
			     want, &want_len));
	b64 = margo_base64_encode(want, want_len, MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	assert_int_equal(margo_ca_mac(TOKEN, ca, mac, NULL), 0);
	assert_string_equal(mac, b64);
	assert_int_equal(strlen(mac), MARGO_CA_MAC_LEN - 1);
	free(b64);
	OPENSSL_free(der);
	X509_free(ca);
}

static void test_verify(void **state)
{
	X509 *ca = new_ca("genuine"), *other = new_ca("genuine");
	char mac[MARGO_CA_MAC_LEN], hash[MARGO_TOKEN_HASH_LEN], lookup[MARGO_TOKEN_LOOKUP_LEN];
	char *token = margo_token_generate(MARGO_TOKEN_ENROLLMENT);
	char *wrong = margo_token_generate(MARGO_TOKEN_ENROLLMENT);

	(void)state;
	assert_int_equal(margo_ca_mac(token, ca, mac, NULL), 0);
	assert_int_equal(margo_ca_mac_verify(token, ca, mac, NULL), 0);
	/* another CA, even with the same name, or another token: refused */
	assert_int_equal(margo_ca_mac_verify(token, other, mac, NULL), MARGO_EAUTH);
	assert_int_equal(margo_ca_mac_verify(wrong, ca, mac, NULL), MARGO_EAUTH);
	assert_int_equal(margo_ca_mac_verify(token, ca, "", NULL), MARGO_EAUTH);
	/* what the database keeps are three different values */
	margo_token_hash(token, hash);
	assert_int_equal(margo_token_lookup(token, lookup, NULL), 0);
	assert_null(strstr(hash, lookup));
	assert_string_not_equal(mac, lookup);
	margo_secret_free(token);
	margo_secret_free(wrong);
	X509_free(ca);
	X509_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_known_answer),
		cmocka_unit_test(test_mac_known_key),
		cmocka_unit_test(test_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
