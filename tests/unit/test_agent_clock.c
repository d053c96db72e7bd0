/* agent/clock.c and agent/https_explain.c: the WFM's times in the device's clock, the one-line
 * explanation of a clock-skew refusal, and what a failed certificate verification means. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509_vfy.h>

#include "clock.h"
#include "https_explain.h"

static struct margo_http_response resp_with(const char *body, int64_t date)
{
	struct margo_http_response r;

	memset(&r, 0, sizeof(r));
	r.status = 401;
	r.body = (char *)body;
	r.body_len = body != NULL ? strlen(body) : 0;
	r.date = date;
	return r;
}

static void test_offset(void **state)
{
	struct margo_http_response r = resp_with(NULL, 1000000);

	(void)state;
	/* the device is 600 s behind: the WFM's expiry 1003600 is 1003000 for it */
	assert_int_equal(agent_clock_offset(&r, 999400), 600);
	assert_int_equal(agent_clock_to_device(1003600, &r, 999400), 1003000);
	r.date = 0; /* no Date: taken as is */
	assert_int_equal(agent_clock_offset(&r, 999400), 0);
	assert_int_equal(agent_clock_to_device(1003600, &r, 999400), 1003600);
	assert_int_equal(agent_clock_offset(NULL, 5), 0);
}

static void test_explain(void **state)
{
	char out[512];
	struct margo_http_response r = resp_with(
		"{\"status\":401,\"clockOffsetSeconds\":-86400,\"allowedSkewSeconds\":300,"
		"\"serverTime\":\"2026-12-04T02:00:00Z\"}", 0);

	(void)state;
	assert_int_equal(agent_clock_explain(&r, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "this device's clock is 86400 s behind the WFM; fix its time (NTP)"));
	assert_non_null(strstr(out, "2026-12-04T02:00:00Z"));
	r = resp_with("{\"clockOffsetSeconds\":42,\"serverTime\":\"\\u001b[31mred\"}", 0);
	assert_int_equal(agent_clock_explain(&r, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "42 s ahead of the WFM"));
	assert_null(strchr(out, '\x1b')); /* a server's text is not printed unless it is a time */
	r = resp_with("{\"status\":401,\"detail\":\"bad signature\"}", 0);
	assert_int_equal(agent_clock_explain(&r, out, sizeof(out)), 0);
	r = resp_with("not json", 0);
	assert_int_equal(agent_clock_explain(&r, out, sizeof(out)), 0);
}

static void test_trust_words(void **state)
{
	struct https_failure f;
	char out[512];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.host = "wfm.example";
	strcpy(f.presented, "sha256:aa");
	strcpy(f.pinned, "sha256:bb");
	f.verify = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "presented sha256:aa, pinned sha256:bb"));
	assert_non_null(strstr(out, "a man in the middle, or the WFM's CA was replaced: re-onboard "
				    "only after the operator confirms the new pin"));
	f.verify = X509_V_ERR_HOSTNAME_MISMATCH;
	strcpy(f.names, "localhost, 127.0.0.1");
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "not valid for wfm.example (it names: localhost, 127.0.0.1)"));
	/* expired by the WFM's own clock, by this device's, and without a Date */
	f.verify = X509_V_ERR_CERT_HAS_EXPIRED;
	assert_true(https_failure_is_time(&f));
	f.not_before = 1000;
	f.not_after = 2000;
	f.device_now = 5000;
	f.server_date = 3000;
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "the WFM's server certificate expired at"));
	f.server_date = 1500;
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "this device's clock is 3500 s ahead of the WFM"));
	f.verify = X509_V_ERR_CERT_NOT_YET_VALID;
	f.device_now = 500;
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "this device's clock is 1000 s behind the WFM"));
	f.server_date = 0;
	https_failure_explain(&f, out, sizeof(out));
	assert_non_null(strstr(out, "check this device's clock (NTP)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offset),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_trust_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
