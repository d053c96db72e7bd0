/* Form and Basic credential parsing (form.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "margo/token.h"
#include "form.h"

static void test_form_parse(void **state)
{
	static const struct {
		const char *body;
		int ok;
		const char *name;
		const char *value;
		size_t count;
	} cases[] = {
		{ "grant_type=client_credentials&client_id=a", 1, "grant_type", "client_credentials", 1 },
		{ "a=1&a=2", 1, "a", "1", 2 },
		{ "x=hello+world%21", 1, "x", "hello world!", 1 },
		{ "x=%2b%2F%3d", 1, "x", "+/=", 1 },
		{ "&&x=&", 1, "x", "", 1 },
		{ "flag", 1, "flag", "", 1 },
		{ "n%61me=v", 1, "name", "v", 1 },
		{ "x=%zz", 0, NULL, NULL, 0 },
		{ "x=%4", 0, NULL, NULL, 0 },
		{ "x=%", 0, NULL, NULL, 0 },
		{ "x=%00", 0, NULL, NULL, 0 },
		{ "", 1, "x", NULL, 0 },
	};
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct form f = { 0 };
		size_t count = 99;
		int rc = form_parse(cases[i].body, strlen(cases[i].body), &f, &err);

		if (!cases[i].ok) {
			assert_int_equal(rc, MARGO_EINVAL);
			form_clear(&f);
			continue;
		}
		assert_int_equal(rc, 0);
		const char *v = form_get(&f, cases[i].name, &count);
		if (cases[i].value == NULL)
			assert_null(v);
		else
			assert_string_equal(v, cases[i].value);
		assert_int_equal(count, cases[i].count);
		form_clear(&f);
	}
}

static void test_form_too_many(void **state)
{
	char body[FORM_MAX_FIELDS * 4 + 16] = "";
	struct form f = { 0 };
	struct margo_error err;

	(void)state;
	for (int i = 0; i <= FORM_MAX_FIELDS; i++)
		strcat(body, "a=1&");
	assert_int_equal(form_parse(body, strlen(body), &f, &err), MARGO_EINVAL);
	form_clear(&f);
}

static void test_basic(void **state)
{
	static const struct {
		const char *header;
		int rc;
		const char *id;
		const char *secret;
	} cases[] = {
		/* "client:secret" */
		{ "Basic Y2xpZW50OnNlY3JldA==", 0, "client", "secret" },
		{ "basic   Y2xpZW50OnNlY3JldA", 0, "client", "secret" },
		/* "a%3Ab:s+c%2B" -> id "a:b", secret "s c+" */
		{ "Basic YSUzQWI6cytjJTJC", 0, "a:b", "s c+" },
		/* "id:" -> empty secret */
		{ "Basic aWQ6", 0, "id", "" },
		/* "nocolon" */
		{ "Basic bm9jb2xvbg==", MARGO_EINVAL, NULL, NULL },
		{ "Basic !!!", MARGO_EINVAL, NULL, NULL },
		{ "Basic ", MARGO_EINVAL, NULL, NULL },
		{ "Bearer abc", MARGO_ENOTFOUND, NULL, NULL },
		{ "Basicabc", MARGO_ENOTFOUND, NULL, NULL },
	};
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *id = NULL, *secret = NULL;

		assert_int_equal(form_basic_parse(cases[i].header, &id, &secret, &err), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(id, cases[i].id);
			assert_string_equal(secret, cases[i].secret);
		} else {
			assert_null(id);
			assert_null(secret);
		}
		free(id);
		margo_secret_free(secret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_parse),
		cmocka_unit_test(test_form_too_many),
		cmocka_unit_test(test_basic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
