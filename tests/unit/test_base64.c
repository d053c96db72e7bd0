#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "margo/base64.h"
#include "margo/error.h"

/* RFC 4648 section 10 vectors, in every output form. */
struct enc_case {
	const char *in;
	const char *std;
	const char *nopad;
};

static const struct enc_case enc_cases[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void test_encode_rfc4648(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];
		char *a = margo_base64_encode(c->in, strlen(c->in), MARGO_BASE64_STD);
		char *b = margo_base64_encode(c->in, strlen(c->in),
					      MARGO_BASE64_URL | MARGO_BASE64_NOPAD);

		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a, c->std);
		assert_string_equal(b, c->nopad);
		free(a);
		free(b);
	}
}

static void test_encode_alphabets(void **state)
{
	static const unsigned char bytes[] = { 0xfb, 0xff, 0xbf, 0xfe };
	char *s;

	(void)state;
	s = margo_base64_encode(bytes, sizeof(bytes), MARGO_BASE64_STD);
	assert_string_equal(s, "+/+//g==");
	free(s);
	s = margo_base64_encode(bytes, sizeof(bytes), MARGO_BASE64_URL);
	assert_string_equal(s, "-_-__g==");
	free(s);
	s = margo_base64_encode(bytes, sizeof(bytes), MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	assert_string_equal(s, "-_-__g");
	free(s);
}

struct dec_case {
	const char *in;
	int ok;
	const char *want; /* hex of the decoded bytes */
};

static const struct dec_case dec_cases[] = {
	{ "", 1, "" },
	{ "Zg==", 1, "66" },
	{ "Zg", 1, "66" },
	{ "Zm8=", 1, "666f" },
	{ "Zm8", 1, "666f" },
	{ "Zm9vYmFy", 1, "666f6f626172" },
	{ "+/+//g==", 1, "fbffbffe" },
	{ "-_-__g==", 1, "fbffbffe" },
	{ "-_-__g", 1, "fbffbffe" },
	{ "Zm9v\nYmFy\r\n", 1, "666f6f626172" },
	{ " Zm 9v\tYg = = ", 1, "666f6f62" },
	{ "Zh==", 1, "66" }, /* non-zero trailing bits are accepted */
	/* invalid */
	{ "Z", 0, NULL },
	{ "Zm9vY", 0, NULL },
	{ "Zg=", 0, NULL },
	{ "Zg===", 0, NULL },
	{ "Zm9v=", 0, NULL },
	{ "=", 0, NULL },
	{ "Zg==Zg==", 0, NULL },
	{ "Zg=a", 0, NULL },
	{ "+/-_", 0, NULL },
	{ "ab_+", 0, NULL },
	{ "Zm9v!", 0, NULL },
	{ "Zm9v\x80", 0, NULL },
	{ "Zm.v", 0, NULL },
};

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static void test_decode_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		const struct dec_case *c = &dec_cases[i];
		unsigned char *out = (unsigned char *)"x";
		size_t len = 99;
		char hex[64];
		int rc = margo_base64_decode(c->in, strlen(c->in), &out, &len);

		if (!c->ok) {
			if (rc != MARGO_EINVAL)
				fail_msg("case %zu '%s' should fail, rc=%d", i, c->in, rc);
			assert_null(out);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu '%s' failed", i, c->in);
		assert_non_null(out);
		assert_int_equal(out[len], 0);
		to_hex(out, len, hex);
		assert_string_equal(hex, c->want);
		free(out);
	}
}

static void test_roundtrip_random(void **state)
{
	unsigned char data[257];
	size_t n, i;
	int f;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(data); n += 7) {
		for (f = 0; f < 4; f++) {
			char *s = margo_base64_encode(data, n, f);
			unsigned char *out;
			size_t len;

			assert_non_null(s);
			assert_int_equal(margo_base64_decode(s, strlen(s), &out, &len), 0);
			assert_int_equal(len, n);
			assert_memory_equal(out, data, n);
			free(out);
			free(s);
		}
	}
}

static void test_decode_length_bound(void **state)
{
	unsigned char *out;
	size_t len;

	(void)state;
	/* only the first 4 characters are considered */
	assert_int_equal(margo_base64_decode("Zm9vYmFy", 4, &out, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "foo", 3);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_rfc4648),
		cmocka_unit_test(test_encode_alphabets),
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_decode_length_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
