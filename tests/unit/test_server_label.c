/* label.c: key and value rules, the selector grammar (table-driven), matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "label.h"

static void test_keys_and_values(void **state)
{
	static const char *good_keys[] = { "plant", "a", "app.kubernetes-io_x", "example.com/x",
					   "device.margo/arch", "a.b-c.d/Z9" };
	static const char *bad_keys[] = { "", "-a", "a-", "/x", "Example.com/x", "a/b/c",
					  "a..b/x", "x/", "sp ace", "caf\xc3\xa9",
					  "0123456789012345678901234567890123456789012345678901234567890123" };
	static const char *good_values[] = { "", "3", "arm64", "A.b_c-9" };
	static const char *bad_values[] = { "-x", "x.", "a b", "a/b", "a,b",
					    "0123456789012345678901234567890123456789012345678901234567890123" };
	struct margo_error err;
	char out[LABEL_VALUE_MAX + 1];

	for (size_t i = 0; i < sizeof(good_keys) / sizeof(*good_keys); i++)
		assert_int_equal(label_key_check(good_keys[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(*bad_keys); i++)
		assert_int_equal(label_key_check(bad_keys[i], &err), MARGO_EINVAL);
	for (size_t i = 0; i < sizeof(good_values) / sizeof(*good_values); i++)
		assert_int_equal(label_value_check(good_values[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++)
		assert_int_equal(label_value_check(bad_values[i], &err), MARGO_EINVAL);
	assert_true(label_key_derived("device.margo/arch"));
	assert_false(label_key_derived("device.margox/arch"));
	label_value_from_text("  ACME Corp. (EU)/ ", out);
	assert_string_equal(out, "ACME-Corp.--EU");
	assert_int_equal(label_value_check(out, &err), 0);
	label_value_from_text("***", out);
	assert_string_equal(out, "");
}

struct match_case {
	const char *selector;
	int match;          /* against the labels in test_matching */
};

static void test_matching(void **state)
{
	static const struct label labels[] = {
		{ "plant", "3" }, { "device.margo/arch", "arm64" }, { "tier", "" },
		{ "example.com/ring", "canary" },
	};
	static const struct match_case cases[] = {
		{ "plant=3", 1 }, { "plant==3", 1 }, { "plant = 3 ", 1 }, { "plant=4", 0 },
		{ "plant!=4", 1 }, { "plant!=3", 0 }, { "missing!=x", 1 },
		{ "plant in (1,2,3)", 1 }, { "plant in (1, 2)", 0 }, { "plant notin (1,2)", 1 },
		{ "plant notin (3)", 0 }, { "missing notin (3)", 1 }, { "missing in (3)", 0 },
		{ "plant", 1 }, { "missing", 0 }, { "!missing", 1 }, { "!plant", 0 },
		{ "tier=", 1 }, { "tier", 1 },
		{ "plant=3,device.margo/arch=arm64", 1 }, { "plant=3,device.margo/arch=amd64", 0 },
		{ "example.com/ring in (canary),!missing,plant", 1 },
	};
	struct margo_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct selector *s;

		assert_int_equal(selector_parse(cases[i].selector, &s, &err), 0);
		if (selector_matches(s, labels, sizeof(labels) / sizeof(*labels)) != cases[i].match)
			fail_msg("selector \"%s\" should %smatch", cases[i].selector,
				 cases[i].match ? "" : "not ");
		selector_free(s);
	}
}

struct bad_case {
	const char *selector;
	const char *message;    /* a part of err.message */
};

static void test_bad_selectors(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "expected a label key" },
		{ "   ", "expected a label key" },
		{ "plant=3,", "at character 9: expected a label key" },
		{ ",plant", "at character 1" },
		{ "plant=3 tier=1", "expected ',' between requirements" },
		{ "plant in 1,2", "expected '(' after in/notin" },
		{ "plant in (1,2", "expected ',' or ')'" },
		{ "plant in ()", "at least one value" },
		{ "plant in (a,)", "empty value in a set" },
		{ "plant in (a b)", "expected ',' or ')'" },
		{ "plant=a b", "expected ',' between requirements" },
		{ "-plant=3", "invalid label key" },
		{ "plant=-3", "invalid label value" },
		{ "!plant=3", "'!key' takes no operator" },
		{ "plant<3", "invalid label key" },
		{ "plant=(3)", "expected ',' between requirements" },
	};
	struct margo_error err;
	struct selector *s;
	char big[SELECTOR_TEXT_MAX + 2];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		memset(&err, 0, sizeof(err));
		s = (struct selector *)1;
		assert_int_equal(selector_parse(cases[i].selector, &s, &err), MARGO_EINVAL);
		assert_null(s);
		if (strstr(err.message, cases[i].message) == NULL)
			fail_msg("selector \"%s\": message \"%s\" lacks \"%s\"", cases[i].selector,
				 err.message, cases[i].message);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(selector_parse(big, &s, &err), MARGO_EINVAL);
	/* 33 requirements */
	{
		char many[33 * 3];
		size_t n = 0;

		for (int i = 0; i < 33; i++) {
			many[n++] = 'a';
			many[n++] = ',';
		}
		many[n - 1] = '\0';
		assert_int_equal(selector_parse(many, &s, &err), MARGO_EINVAL);
		assert_non_null(strstr(err.message, "too many requirements"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_values),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_bad_selectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
