/* The router and the error-to-status mapping of http.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "margo/error.h"
#include "http.h"

static int h_a(struct http_request *req, struct http_response *resp)
{
	(void)req;
	(void)resp;
	return 0;
}

static int h_b(struct http_request *req, struct http_response *resp)
{
	(void)req;
	(void)resp;
	return 1;
}

static void test_router(void **state)
{
	static const struct http_route routes[] = {
		{ "GET", "/onboarding/certificate", h_a, 0 },
		{ "POST", "/onboarding/", h_a, 0 },
		{ "POST", "/onboarding", h_a, 0 },
		{ "POST", "/device/{deviceId}/capabilities", h_a, 0 },
		{ "PUT", "/device/{deviceId}/capabilities", h_a, 0 },
		{ "GET", "/device/{deviceId}/capabilities", h_b, 0 },
		{ "POST", "/device/{deviceId}/deployment/{deploymentId}/status", h_b, 0 },
	};
	const struct http_route *r;
	const char *params[HTTP_MAX_PARAMS];
	size_t np;
	unsigned status;
	char buf[256], allow[64];

	(void)state;
	r = http_route_find(routes, 7, "GET", "/onboarding/certificate", buf, params, &np, &status,
			    allow, sizeof(allow));
	assert_ptr_equal(r, &routes[0]);
	assert_int_equal(np, 0);
	r = http_route_find(routes, 7, "POST", "/onboarding/", buf, params, &np, &status, allow,
			    sizeof(allow));
	assert_ptr_equal(r, &routes[1]);
	r = http_route_find(routes, 7, "POST", "/onboarding", buf, params, &np, &status, allow,
			    sizeof(allow));
	assert_ptr_equal(r, &routes[2]);
	r = http_route_find(routes, 7, "GET", "/device/abc/capabilities", buf, params, &np,
			    &status, allow, sizeof(allow));
	assert_ptr_equal(r, &routes[5]);
	assert_int_equal(np, 1);
	assert_string_equal(params[0], "abc");
	r = http_route_find(routes, 7, "POST", "/device/d1/deployment/x-2/status", buf, params,
			    &np, &status, allow, sizeof(allow));
	assert_ptr_equal(r, &routes[6]);
	assert_int_equal(np, 2);
	assert_string_equal(params[0], "d1");
	assert_string_equal(params[1], "x-2");
	r = http_route_find(routes, 7, "DELETE", "/device/abc/capabilities", buf, params, &np,
			    &status, allow, sizeof(allow));
	assert_null(r);
	assert_int_equal(status, 405);
	assert_string_equal(allow, "POST, PUT, GET");
	r = http_route_find(routes, 7, "GET", "/device//capabilities", buf, params, &np, &status,
			    allow, sizeof(allow));
	assert_null(r);
	assert_int_equal(status, 404);
	r = http_route_find(routes, 7, "GET", "/nope", buf, params, &np, &status, allow,
			    sizeof(allow));
	assert_null(r);
	assert_int_equal(status, 404);
	r = http_route_find(routes, 7, "GET", "/onboarding/certificate/", buf, params, &np,
			    &status, allow, sizeof(allow));
	assert_null(r);
	assert_int_equal(status, 404);
	r = http_route_find(routes, 7, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", buf, params, &np,
			    &status, allow, sizeof(allow));
	assert_null(r);
	assert_int_equal(status, 404);
}

static void test_error_mapping(void **state)
{
	static const struct {
		int code;
		unsigned status;
	} cases[] = {
		{ MARGO_EINVAL, 400 }, { MARGO_EAUTH, 401 }, { MARGO_EFORBIDDEN, 403 },
		{ MARGO_ENOTFOUND, 404 }, { MARGO_ECONFLICT, 409 }, { MARGO_EEXIST, 409 },
		{ MARGO_EEXPIRED, 410 }, { MARGO_ETOOBIG, 413 }, { MARGO_EUNSUPPORTED, 415 },
		{ MARGO_ELIMIT, 429 }, { MARGO_ESTORE, 503 }, { MARGO_ENOMEM, 500 },
		{ MARGO_ECRYPTO, 500 },
	};
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_request req;

		memset(&req, 0, sizeof(req));
		req.problem.retry_after = -1;
		margo_error_set(&err, cases[i].code, "detail %zu", i);
		assert_int_equal(http_fail_error(&req, cases[i].code, &err), -1);
		assert_int_equal(req.problem.status, cases[i].status);
		if (cases[i].status == 503)
			assert_true(req.problem.retry_after > 0);
		else if (cases[i].status == 500)
			/* Internal details are not shown to clients. */
			assert_string_equal(req.problem.detail, "internal error");
		else
			assert_string_not_equal(req.problem.detail, "internal error");
	}
}

static void test_validation_problem(void **state)
{
	struct http_request req;
	struct margo_validation v;

	(void)state;
	memset(&req, 0, sizeof(req));
	margo_validation_init(&v);
	margo_validation_add(&v, "/a", "missing");
	margo_validation_add(&v, "/b", "must be a string");
	assert_int_equal(http_fail_validation(&req, &v), -1);
	assert_int_equal(req.problem.status, 422);
	assert_non_null(req.problem.validation);
	assert_int_equal(req.problem.validation->count, 2);
	assert_string_equal(req.problem.validation->errors[1].field, "/b");
	free(req.problem.validation);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_validation_problem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
