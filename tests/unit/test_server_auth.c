/* auth.c's pure parts, table-driven: which role each admin request needs, operator names,
 * role names. (Tokens against a live wfmd: tests/e2e/test_operators.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "auth.h"

static void test_required_role(void **state)
{
	static const struct {
		const char *method;
		const char *path;
		enum auth_role need;
	} cases[] = {
		{ "GET", "/admin/v1/devices", AUTH_ROLE_VIEWER },
		{ "HEAD", "/admin/v1/devices", AUTH_ROLE_VIEWER },
		{ "GET", "/admin/v1/devices/x/deployments", AUTH_ROLE_VIEWER },
		{ "GET", "/admin/v1/enrollment-tokens", AUTH_ROLE_VIEWER },
		{ "GET", "/admin/v1/certificates", AUTH_ROLE_VIEWER },
		{ "GET", "/admin/v1/audit", AUTH_ROLE_VIEWER },
		{ "GET", "/metrics", AUTH_ROLE_VIEWER },
		{ "GET", "/admin/v1/operators", AUTH_ROLE_ADMIN },
		{ "GET", "/admin/v1/operators/alice", AUTH_ROLE_ADMIN },
		{ "POST", "/admin/v1/operators", AUTH_ROLE_ADMIN },
		{ "DELETE", "/admin/v1/operators/alice", AUTH_ROLE_ADMIN },
		{ "POST", "/admin/v1/enrollment-tokens", AUTH_ROLE_ADMIN },
		{ "DELETE", "/admin/v1/enrollment-tokens/x", AUTH_ROLE_ADMIN },
		{ "POST", "/admin/v1/certificates", AUTH_ROLE_ADMIN },
		{ "DELETE", "/admin/v1/certificates/sha256:00", AUTH_ROLE_ADMIN },
		{ "POST", "/admin/v1/devices/x/approve", AUTH_ROLE_OPERATOR },
		{ "POST", "/admin/v1/devices/x/reject", AUTH_ROLE_OPERATOR },
		{ "DELETE", "/admin/v1/devices/x", AUTH_ROLE_OPERATOR },
		{ "PUT", "/admin/v1/devices/x/deployments/d", AUTH_ROLE_OPERATOR },
		{ "DELETE", "/admin/v1/devices/x/deployments/d", AUTH_ROLE_OPERATOR },
		{ "PATCH", "/admin/v1/devices/x/labels", AUTH_ROLE_OPERATOR },
		{ "POST", "/admin/v1/rollouts", AUTH_ROLE_OPERATOR },
		{ "POST", "/admin/v1/rollouts/x/abort", AUTH_ROLE_OPERATOR },
		/* A prefix is a whole segment: not /admin/v1/operatorsX. */
		{ "POST", "/admin/v1/operatorsX", AUTH_ROLE_OPERATOR },
		{ "GET", "/admin/v1/certificatesX", AUTH_ROLE_VIEWER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum auth_role got = auth_required_role(cases[i].method, cases[i].path);

		if (got != cases[i].need)
			fail_msg("%s %s: needs %s, expected %s", cases[i].method, cases[i].path,
				 auth_role_name(got), auth_role_name(cases[i].need));
	}
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		int valid;
	} cases[] = {
		{ "alice", 1 }, { "a", 1 }, { "0ps", 1 }, { "ci.bot_2-x", 1 },
		{ "abcdefghijklmnopqrstuvwxyz012345", 1 },       /* 32 */
		{ "abcdefghijklmnopqrstuvwxyz0123456", 0 },      /* 33 */
		{ "", 0 }, { "Alice", 0 }, { "-x", 0 }, { ".x", 0 }, { "a b", 0 }, { "a/b", 0 },
		{ "a\"b", 0 }, { "\xc3\xa9", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (auth_operator_name_valid(cases[i].name) != cases[i].valid)
			fail_msg("'%s': expected %s", cases[i].name,
				 cases[i].valid ? "valid" : "invalid");
}

static void test_roles(void **state)
{
	(void)state;
	assert_int_equal(auth_role_parse("viewer"), AUTH_ROLE_VIEWER);
	assert_int_equal(auth_role_parse("operator"), AUTH_ROLE_OPERATOR);
	assert_int_equal(auth_role_parse("admin"), AUTH_ROLE_ADMIN);
	assert_int_equal(auth_role_parse("root"), AUTH_ROLE_NONE);
	assert_int_equal(auth_role_parse("Admin"), AUTH_ROLE_NONE);
	assert_int_equal(auth_role_parse(NULL), AUTH_ROLE_NONE);
	assert_string_equal(auth_role_name(AUTH_ROLE_OPERATOR), "operator");
	assert_true(AUTH_ROLE_VIEWER < AUTH_ROLE_OPERATOR && AUTH_ROLE_OPERATOR < AUTH_ROLE_ADMIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_required_role),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
