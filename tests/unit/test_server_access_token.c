/* access_token.c: self-contained access tokens, minted and verified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "margo/base64.h"

#include "access_token.h"

#define DEV "6f1c0a9e-0b2d-4c3e-8f40-5a6b7c8d9e0f"
#define T0 1800000000

static const unsigned char raw_key[ACCESS_TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static struct access_key *key;

static char *mint(const char *device, int64_t epoch, int64_t expires_at)
{
	struct access_token t = { .epoch = epoch, .expires_at = expires_at };

	strcpy(t.device_id, device);
	return access_token_mint(key, &t);
}

static void test_round_trip(void **state)
{
	struct access_token out;
	struct margo_error err;
	char *a = mint(DEV, 7, T0 + 3600), *b = mint(DEV, 7, T0 + 3600);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_true(strncmp(a, MARGO_TOKEN_ACCESS, strlen(MARGO_TOKEN_ACCESS)) == 0);
	/* Two tokens with the same claims still differ (nonce). */
	assert_string_not_equal(a, b);
	assert_int_equal(access_token_verify(key, a, T0, &out, &err), 0);
	assert_string_equal(out.device_id, DEV);
	assert_int_equal(out.epoch, 7);
	assert_int_equal(out.expires_at, T0 + 3600);
	/* Large epochs survive the encoding. */
	margo_secret_free(b);
	b = mint("ffffffff-ffff-4fff-bfff-ffffffffffff", INT64_MAX, T0 + 1);
	assert_int_equal(access_token_verify(key, b, T0, &out, &err), 0);
	assert_string_equal(out.device_id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	assert_true(out.epoch == INT64_MAX);
	margo_secret_free(a);
	margo_secret_free(b);
}

static void test_expiry(void **state)
{
	struct access_token out;
	struct margo_error err;
	char *a = mint(DEV, 1, T0 + 10);

	(void)state;
	assert_int_equal(access_token_verify(key, a, T0 + 9, &out, &err), 0);
	assert_int_equal(access_token_verify(key, a, T0 + 10, &out, &err), MARGO_EAUTH);
	assert_non_null(strstr(err.message, "expired"));
	margo_secret_free(a);
}

/* Every single-character change anywhere in the token is refused. */
static void test_tampering(void **state)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_";
	struct access_token out;
	struct margo_error err;
	char *a = mint(DEV, 3, T0 + 100);
	size_t n = strlen(a);
	int refused = 0, tried = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char saved = a[i];

		/* Another valid character, so only the MAC can catch it. */
		a[i] = alphabet[(strchr(alphabet, saved) != NULL ?
				 (size_t)(strchr(alphabet, saved) - alphabet) + 1 : 0) % 64];
		if (a[i] == saved)
			a[i] = 'A';
		tried++;
		if (access_token_verify(key, a, T0, &out, &err) == MARGO_EAUTH)
			refused++;
		a[i] = saved;
	}
	assert_int_equal(refused, tried);
	assert_int_equal(access_token_verify(key, a, T0, &out, &err), 0);
	margo_secret_free(a);
}

static void test_foreign_and_malformed(void **state)
{
	static const unsigned char other_raw[ACCESS_TOKEN_KEY_LEN] =
		"fedcba9876543210fedcba9876543210";
	struct access_key *other;
	struct access_token out, t = { .epoch = 1, .expires_at = T0 + 100 };
	struct margo_error err;
	char *a = mint(DEV, 1, T0 + 100), *foreign, buf[256];

	(void)state;
	strcpy(t.device_id, DEV);
	assert_int_equal(access_key_new(other_raw, &other, &err), 0);
	foreign = access_token_mint(other, &t);
	access_key_free(other);
	assert_non_null(foreign);
	assert_int_equal(access_token_verify(key, foreign, T0, &out, &err), MARGO_EAUTH);
	assert_int_equal(access_token_verify(key, "", T0, &out, &err), MARGO_EAUTH);
	assert_int_equal(access_token_verify(key, "wfmat_", T0, &out, &err), MARGO_EAUTH);
	assert_int_equal(access_token_verify(key, a + 1, T0, &out, &err), MARGO_EAUTH);
	/* Another prefix, truncated, extended, padded, or in the standard alphabet. */
	snprintf(buf, sizeof(buf), "wfmgt_%s", a + strlen(MARGO_TOKEN_ACCESS));
	assert_int_equal(access_token_verify(key, buf, T0, &out, &err), MARGO_EAUTH);
	snprintf(buf, sizeof(buf), "%.*s", (int)strlen(a) - 1, a);
	assert_int_equal(access_token_verify(key, buf, T0, &out, &err), MARGO_EAUTH);
	snprintf(buf, sizeof(buf), "%sA", a);
	assert_int_equal(access_token_verify(key, buf, T0, &out, &err), MARGO_EAUTH);
	snprintf(buf, sizeof(buf), "%s=", a);
	assert_int_equal(access_token_verify(key, buf, T0, &out, &err), MARGO_EAUTH);
	snprintf(buf, sizeof(buf), "%s", a);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '-' || *p == '_')
			*p = *p == '-' ? '+' : '/';
	if (strcmp(buf, a) != 0)
		assert_int_equal(access_token_verify(key, buf, T0, &out, &err), MARGO_EAUTH);
	/* Not a UUID: nothing is minted. */
	strcpy(t.device_id, "not-a-uuid");
	assert_null(access_token_mint(key, &t));
	margo_secret_free(a);
	margo_secret_free(foreign);
}

/* The precomputed-pad MAC is HMAC-SHA256: the token's last 32 bytes equal OpenSSL's HMAC()
 * of the 65 bytes before, under the raw key. */
static void test_mac_is_hmac_sha256(void **state)
{
	char *a = mint(DEV, 5, T0 + 60);
	unsigned char *raw = NULL, expect[32];
	unsigned int len = sizeof(expect);
	size_t n = 0;

	(void)state;
	assert_int_equal(margo_base64_decode(a + strlen(MARGO_TOKEN_ACCESS),
					     strlen(a + strlen(MARGO_TOKEN_ACCESS)), &raw, &n), 0);
	assert_int_equal(n, 97);
	assert_non_null(HMAC(EVP_sha256(), raw_key, sizeof(raw_key), raw, 65, expect, &len));
	assert_memory_equal(expect, raw + 65, 32);
	free(raw);
	margo_secret_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_foreign_and_malformed),
		cmocka_unit_test(test_mac_is_hmac_sha256),
	};

	struct margo_error err;
	int rc;

	if (access_key_new(raw_key, &key, &err) < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	access_key_free(key);
	return rc;
}
