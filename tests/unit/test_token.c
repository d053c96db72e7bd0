#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "margo/base64.h"
#include "margo/error.h"
#include "margo/token.h"

static const char *const prefixes[] = {
	MARGO_TOKEN_ENROLLMENT, MARGO_TOKEN_CLIENT_SECRET, MARGO_TOKEN_ACCESS,
	MARGO_TOKEN_GIT,        MARGO_TOKEN_POLL,          MARGO_TOKEN_ADMIN,
};

static void test_generate_shape(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char *t = margo_token_generate(prefixes[i]);
		unsigned char *raw;
		size_t len;

		assert_non_null(t);
		assert_int_equal(strlen(t), strlen(prefixes[i]) + 43);
		assert_true(margo_token_has_prefix(t, prefixes[i]));
		assert_false(margo_token_has_prefix(t, i == 0 ? prefixes[1] : prefixes[0]));
		assert_null(strchr(t, '='));
		assert_null(strchr(t, '+'));
		assert_null(strchr(t, '/'));
		assert_int_equal(margo_base64_decode(t + strlen(prefixes[i]), 43, &raw, &len), 0);
		assert_int_equal(len, 32);
		free(raw);
		margo_secret_free(t);
	}
}

static void test_generate_unique(void **state)
{
	char *a = margo_token_generate(MARGO_TOKEN_ACCESS);
	char *b = margo_token_generate(MARGO_TOKEN_ACCESS);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(a, b);
	margo_secret_free(a);
	margo_secret_free(b);
	margo_secret_free(NULL);
}

struct prefix_case {
	const char *token;
	const char *prefix;
	int want;
};

static const struct prefix_case prefix_cases[] = {
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wfmat_", 1 },
	{ "wfmat_abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE", "wfmat_", 1 },
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wfmet_", 0 },
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wfmat_", 0 },
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wfmat_", 0 },
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", "wfmat_", 0 },
	{ "wfmat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "wfmat_", 0 },
	{ "", "wfmat_", 0 },
	{ "wfmat_", "wfmat_", 0 },
};

static void test_has_prefix_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++)
		if (margo_token_has_prefix(prefix_cases[i].token, prefix_cases[i].prefix) !=
		    prefix_cases[i].want)
			fail_msg("case %zu", i);
	assert_false(margo_token_has_prefix(NULL, "wfmat_"));
}

static void test_hash(void **state)
{
	char out[MARGO_TOKEN_HASH_LEN];

	(void)state;
	/* SHA-256("abc"), FIPS 180-2 */
	margo_token_hash("abc", out);
	assert_string_equal(out,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	margo_token_hash("", out);
	assert_string_equal(out,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

struct eq_case {
	const char *a;
	const char *b;
	int want;
};

static const struct eq_case eq_cases[] = {
	{ "", "", 1 },
	{ "abc", "abc", 1 },
	{ "abc", "abd", 0 },
	{ "abc", "ab", 0 },
	{ "ab", "abc", 0 },
	{ "", "a", 0 },
	{ "xbc", "abc", 0 },
};

static void test_equal_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(eq_cases) / sizeof(eq_cases[0]); i++)
		if (margo_token_equal(eq_cases[i].a, eq_cases[i].b) != eq_cases[i].want)
			fail_msg("case %zu", i);
	assert_false(margo_token_equal(NULL, "a"));
	assert_false(margo_token_equal("a", NULL));
}

static void test_uuid(void **state)
{
	char a[MARGO_UUID_LEN], b[MARGO_UUID_LEN];

	(void)state;
	assert_int_equal(margo_uuid_v4(a), 0);
	assert_int_equal(margo_uuid_v4(b), 0);
	assert_int_equal(strlen(a), 36);
	assert_true(margo_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_true(margo_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(margo_uuid_valid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
	assert_false(margo_uuid_valid("0f8fad5bd9cb469fa16570867728950e"));
	assert_false(margo_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950"));
	assert_false(margo_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950e0"));
	assert_false(margo_uuid_valid("0f8fad5b-d9cb-469f-a165_70867728950e"));
	assert_false(margo_uuid_valid("0g8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(margo_uuid_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_shape),
		cmocka_unit_test(test_generate_unique),
		cmocka_unit_test(test_has_prefix_table),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_equal_table),
		cmocka_unit_test(test_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
