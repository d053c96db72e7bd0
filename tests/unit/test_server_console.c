/* The web console's pure parts: the session cookie out of a Cookie header, the CSRF token of
 * a session, If-None-Match against an asset's ETag, and the embedded assets table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "margo/error.h"
#include "margo/token.h"
#include "auth.h"
#include "session.h"
#include "ui_assets.h"

static void test_cookie_parse(void **state)
{
	static const struct {
		const char *header;
		int rc;
		const char *value;
	} cases[] = {
		{ NULL, MARGO_ENOTFOUND, "" },
		{ "", MARGO_ENOTFOUND, "" },
		{ "__Host-margo_session=wfmses_abc", 0, "wfmses_abc" },
		{ "theme=dark; __Host-margo_session=wfmses_abc; lang=en", 0, "wfmses_abc" },
		{ "theme=dark;__Host-margo_session=wfmses_x", 0, "wfmses_x" },
		{ "x__Host-margo_session=evil; a=b", MARGO_ENOTFOUND, "" },
		{ "__Host-margo_session_other=evil", MARGO_ENOTFOUND, "" },
		{ "margo_session=wfmses_abc", MARGO_ENOTFOUND, "" },
		{ "__Host-margo_session=", MARGO_EINVAL, "" },
		{ "__Host-margo_session=; other=1", MARGO_EINVAL, "" },
	};
	char buf[AUTH_TOKEN_MAX], longv[AUTH_TOKEN_MAX + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(session_cookie_parse(cases[i].header, buf), cases[i].rc);
		assert_string_equal(buf, cases[i].value);
	}
	snprintf(longv, sizeof(longv), "%s=", SESSION_COOKIE);
	memset(longv + strlen(longv), 'a', sizeof(longv) - strlen(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(session_cookie_parse(longv, buf), MARGO_EINVAL);
}

static void test_csrf_token(void **state)
{
	char a[MARGO_TOKEN_HASH_LEN], a2[MARGO_TOKEN_HASH_LEN], b[MARGO_TOKEN_HASH_LEN];
	char plain[MARGO_TOKEN_HASH_LEN];

	(void)state;
	session_csrf_token("wfmses_one", a);
	session_csrf_token("wfmses_one", a2);
	session_csrf_token("wfmses_two", b);
	margo_token_hash("wfmses_one", plain);
	assert_string_equal(a, a2);
	assert_string_not_equal(a, b);
	/* not the stored hash of the session: knowing one does not give the other */
	assert_string_not_equal(a, plain);
	assert_int_equal(strlen(a), 64);
}

static void test_etag_matches(void **state)
{
	static const char *etag = "\"0123abcd\"";

	(void)state;
	assert_false(ui_etag_matches(NULL, etag));
	assert_false(ui_etag_matches("", etag));
	assert_true(ui_etag_matches("\"0123abcd\"", etag));
	assert_true(ui_etag_matches("W/\"0123abcd\"", etag));
	assert_true(ui_etag_matches("\"ffff\", \"0123abcd\"", etag));
	assert_true(ui_etag_matches("*", etag));
	assert_false(ui_etag_matches("\"0123abcd0\"", etag));
	assert_false(ui_etag_matches("\"0123\"", etag));
	assert_false(ui_etag_matches("\"ffff\"", etag));
}

static void test_assets(void **state)
{
	const struct ui_asset *a;

	(void)state;
	a = ui_asset_find("index.html");
	assert_non_null(a);
	assert_string_equal(a->content_type, "text/html; charset=utf-8");
	assert_true(a->len > 100);
	assert_int_equal(a->data[a->len], 0);
	assert_non_null(strstr((const char *)a->data, "<script type=\"module\" src=\"/ui/app.js\">"));
	a = ui_asset_find("app.js");
	assert_non_null(a);
	assert_string_equal(a->content_type, "text/javascript; charset=utf-8");
	assert_int_equal(strlen(a->etag), 34);
	assert_null(ui_asset_find("../admin.token"));
	assert_null(ui_asset_find(""));
	for (size_t i = 0; i < ui_nassets; i++)
		for (size_t j = i + 1; j < ui_nassets; j++)
			assert_string_not_equal(ui_assets[i].etag, ui_assets[j].etag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_parse),
		cmocka_unit_test(test_csrf_token),
		cmocka_unit_test(test_etag_matches),
		cmocka_unit_test(test_assets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
