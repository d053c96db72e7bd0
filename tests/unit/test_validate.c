#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "margo/error.h"
#include "margo/validate.h"

static const char *const valid_capabilities =
	"{\"apiVersion\": \"device.margo/v1\", \"kind\": \"DeviceCapabilities\","
	" \"properties\": {\"id\": \"northstar.xtapro.edge\", \"vendor\": \"Northstar\","
	"  \"modelNumber\": \"332ANZE1-N1\", \"serialNumber\": \"PF45343-AA\","
	"  \"roles\": [\"standalone cluster\", \"Cluster Leader\"],"
	"  \"resources\": {\"memory\": \"16Gi\", \"storage\": 512,"
	"   \"cpus\": [{\"architecture\": \"amd64\", \"cores\": 8, \"frequency\": 2.4},"
	"              {\"cpuArchitecture\": \"arm64\", \"cores\": 4, \"frequency\": \"1800 MHz\"}]},"
	"  \"peripherals\": [{\"name\": \"gpu0\", \"type\": \"gpu\", \"modelNumber\": \"X1\","
	"   \"properties\": {\"memory\": \"8Gi\"}}],"
	"  \"interfaces\": [{\"name\": \"eth0\", \"type\": \"ethernet\"}],"
	"  \"x-vendor\": {\"anything\": true}},"
	" \"extra\": 1}";

static const char *const valid_status =
	"{\"apiVersion\": \"deployment.margo/v1\", \"kind\": \"DeploymentStatus\","
	" \"deploymentId\": \"a3e2f5dc-912e-494f-8395-52cf3769bc06\","
	" \"status\": {\"state\": \"Installing\", \"error\": {\"code\": \"\", \"message\": \"\"}},"
	" \"components\": [{\"name\": \"web\", \"state\": \"installed\","
	"   \"error\": {\"code\": \"E1\", \"message\": \"m\"}}, {\"name\": \"db\", \"state\": \"PENDING\"}]}";

#define DEPLOYMENT_ID "a3e2f5dc-912e-494f-8395-52cf3769bc06"

/* Sets (value != NULL, JSON text) or deletes (value == NULL) the member at a simple JSON
 * pointer (no escapes) in doc. Array indexes are decimal. */
static void set_at(json_t *doc, const char *pointer, const char *value)
{
	char path[256], *tok, *next, *save = NULL;
	json_t *parent = doc, *val = NULL;
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s", pointer + 1);
	if (value != NULL) {
		val = json_loads(value, JSON_DECODE_ANY, &jerr);
		if (val == NULL)
			fail_msg("bad test value %s: %s", value, jerr.text);
	}
	tok = strtok_r(path, "/", &save);
	while (tok != NULL) {
		next = strtok_r(NULL, "/", &save);
		if (next == NULL)
			break;
		parent = json_is_array(parent) ? json_array_get(parent, strtoul(tok, NULL, 10))
					       : json_object_get(parent, tok);
		if (parent == NULL)
			fail_msg("no parent for %s", pointer);
		tok = next;
	}
	if (json_is_array(parent)) {
		size_t i = strtoul(tok, NULL, 10);

		if (val != NULL)
			assert_int_equal(json_array_set_new(parent, i, val), 0);
		else
			assert_int_equal(json_array_remove(parent, i), 0);
	} else if (val != NULL) {
		assert_int_equal(json_object_set_new(parent, tok, val), 0);
	} else {
		json_object_del(parent, tok);
	}
}

struct vcase {
	const char *pointer;   /* member to change */
	const char *value;     /* new JSON value, NULL deletes */
	const char *field;     /* expected error field; NULL: document stays valid */
	const char *message;   /* substring of the expected message */
};

static const struct vcase capability_cases[] = {
	{ "/apiVersion", NULL, "/apiVersion", "missing" },
	{ "/apiVersion", "5", "/apiVersion", "must be a string" },
	{ "/apiVersion", "\"device.margo/v2\"", "/apiVersion", "device.margo/v1" },
	{ "/apiVersion", "\"\"", "/apiVersion", "must not be empty" },
	{ "/kind", NULL, "/kind", "missing" },
	{ "/kind", "[]", "/kind", "must be a string" },
	{ "/kind", "\"DeviceCapability\"", NULL, NULL },
	{ "/kind", "\"Device\"", "/kind", "DeviceCapabilities" },
	{ "/properties", NULL, "/properties", "missing" },
	{ "/properties", "null", "/properties", "missing" },
	{ "/properties", "\"x\"", "/properties", "must be an object" },
	{ "/properties/id", NULL, "/properties/id", "missing" },
	{ "/properties/id", "\"\"", "/properties/id", "must not be empty" },
	{ "/properties/id", "42", "/properties/id", "must be a string" },
	{ "/properties/vendor", NULL, "/properties/vendor", "missing" },
	{ "/properties/vendor", "true", "/properties/vendor", "must be a string" },
	{ "/properties/modelNumber", NULL, "/properties/modelNumber", "missing" },
	{ "/properties/modelNumber", "\"\"", "/properties/modelNumber", "must not be empty" },
	{ "/properties/serialNumber", NULL, "/properties/serialNumber", "missing" },
	{ "/properties/serialNumber", "{}", "/properties/serialNumber", "must be a string" },
	{ "/properties/roles", NULL, "/properties/roles", "missing" },
	{ "/properties/roles", "\"standalone device\"", "/properties/roles", "must be an array" },
	{ "/properties/roles", "[]", "/properties/roles", "must not be empty" },
	{ "/properties/roles/1", "\"cluster boss\"", "/properties/roles/1", "must be one of" },
	{ "/properties/roles/0", "7", "/properties/roles/0", "must be a string" },
	{ "/properties/roles/0", "\"STANDALONE DEVICE\"", NULL, NULL },
	{ "/properties/roles/0", "\"cluster worker\"", NULL, NULL },
	{ "/properties/resources", NULL, "/properties/resources", "missing" },
	{ "/properties/resources", "[]", "/properties/resources", "must be an object" },
	{ "/properties/resources/memory", NULL, "/properties/resources/memory", "missing" },
	{ "/properties/resources/memory", "true", "/properties/resources/memory", "must be a number" },
	{ "/properties/resources/memory", "-1", "/properties/resources/memory", "negative" },
	{ "/properties/resources/memory", "\"16 parsecs\"", "/properties/resources/memory", "unit" },
	{ "/properties/resources/memory", "\"Gi\"", "/properties/resources/memory", "unit" },
	{ "/properties/resources/memory", "\"16\"", "/properties/resources/memory", "unit" },
	{ "/properties/resources/memory", "\"16384 Mi\"", NULL, NULL },
	{ "/properties/resources/memory", "15.5", NULL, NULL },
	{ "/properties/resources/storage", NULL, "/properties/resources/storage", "missing" },
	{ "/properties/resources/storage", "\"512 GB\"", NULL, NULL },
	{ "/properties/resources/storage", "\"1.5TB\"", NULL, NULL },
	{ "/properties/resources/storage", "\"2000 gib\"", NULL, NULL },
	{ "/properties/resources/storage", "\"1.5.2TB\"", "/properties/resources/storage", "unit" },
	{ "/properties/resources/storage", "{}", "/properties/resources/storage", "must be a number" },
	{ "/properties/resources/cpus", NULL, "/properties/resources/cpus", "missing" },
	{ "/properties/resources/cpus", "{}", "/properties/resources/cpus", "must be an array" },
	{ "/properties/resources/cpus", "[]", "/properties/resources/cpus", "must not be empty" },
	{ "/properties/resources/cpus/0", "\"amd64\"", "/properties/resources/cpus/0", "must be an object" },
	{ "/properties/resources/cpus/0/architecture", NULL, "/properties/resources/cpus/0/architecture", "missing" },
	{ "/properties/resources/cpus/0/architecture", "1", "/properties/resources/cpus/0/architecture", "must be a string" },
	{ "/properties/resources/cpus/1/cpuArchitecture", "\"\"", "/properties/resources/cpus/1/cpuArchitecture", "must not be empty" },
	{ "/properties/resources/cpus/1/cpuArchitecture", NULL, "/properties/resources/cpus/1/architecture", "missing" },
	{ "/properties/resources/cpus/0/cores", NULL, "/properties/resources/cpus/0/cores", "missing" },
	{ "/properties/resources/cpus/0/cores", "0", "/properties/resources/cpus/0/cores", "at least 1" },
	{ "/properties/resources/cpus/0/cores", "2.5", "/properties/resources/cpus/0/cores", "must be an integer" },
	{ "/properties/resources/cpus/0/cores", "\"8\"", "/properties/resources/cpus/0/cores", "must be an integer" },
	{ "/properties/resources/cpus/0/frequency", NULL, NULL, NULL },
	{ "/properties/resources/cpus/0/frequency", "\"2.4GHz\"", NULL, NULL },
	{ "/properties/resources/cpus/0/frequency", "\"2.4 GB\"", "/properties/resources/cpus/0/frequency", "unit" },
	{ "/properties/resources/cpus/0/frequency", "[1]", "/properties/resources/cpus/0/frequency", "must be a number (GHz)" },
	{ "/properties/resources/cpus/0/frequency", "-2", "/properties/resources/cpus/0/frequency", "negative" },
	{ "/properties/peripherals", NULL, NULL, NULL },
	{ "/properties/peripherals", "{}", "/properties/peripherals", "must be an array" },
	{ "/properties/peripherals/0", "1", "/properties/peripherals/0", "must be an object" },
	{ "/properties/peripherals/0/name", NULL, "/properties/peripherals/0/name", "missing" },
	{ "/properties/peripherals/0/type", "3", "/properties/peripherals/0/type", "must be a string" },
	{ "/properties/peripherals/0/modelNumber", NULL, NULL, NULL },
	{ "/properties/peripherals/0/modelNumber", "1", "/properties/peripherals/0/modelNumber", "must be a string" },
	{ "/properties/peripherals/0/properties", "[]", "/properties/peripherals/0/properties", "must be an object" },
	{ "/properties/interfaces", NULL, NULL, NULL },
	{ "/properties/interfaces", "\"eth0\"", "/properties/interfaces", "must be an array" },
	{ "/properties/interfaces/0/type", NULL, "/properties/interfaces/0/type", "missing" },
	{ "/properties/interfaces/0/name", "\"\"", "/properties/interfaces/0/name", "must not be empty" },
	{ "/properties/resources/interfaces", "[{\"name\": \"wlan0\"}]", "/properties/resources/interfaces/0/type", "missing" },
	{ "/properties/resources/peripherals", "[{\"name\": \"a\", \"type\": \"b\"}]", NULL, NULL },
};

static const struct vcase status_cases[] = {
	{ "/apiVersion", NULL, "/apiVersion", "missing" },
	{ "/apiVersion", "1", "/apiVersion", "must be a string" },
	{ "/apiVersion", "\"\"", "/apiVersion", "must not be empty" },
	{ "/kind", NULL, "/kind", "missing" },
	{ "/kind", "\"DeviceCapabilities\"", "/kind", "DeploymentStatus" },
	{ "/deploymentId", NULL, "/deploymentId", "missing" },
	{ "/deploymentId", "17", "/deploymentId", "must be a string" },
	{ "/deploymentId", "\"b3e2f5dc-912e-494f-8395-52cf3769bc06\"", "/deploymentId", "URL" },
	{ "/status", NULL, "/status", "missing" },
	{ "/status", "\"Installed\"", "/status", "must be an object" },
	{ "/status/state", NULL, "/status/state", "missing" },
	{ "/status/state", "\"Exploded\"", "/status/state", "must be one of" },
	{ "/status/state", "1", "/status/state", "must be a string" },
	{ "/status/state", "\"removed\"", NULL, NULL },
	{ "/status/state", "\"FAILED\"", NULL, NULL },
	{ "/status/error", NULL, NULL, NULL },
	{ "/status/error", "\"boom\"", "/status/error", "must be an object" },
	{ "/status/error/code", "5", "/status/error/code", "must be a string" },
	{ "/status/error/message", "[]", "/status/error/message", "must be a string" },
	{ "/components", NULL, NULL, NULL },
	{ "/components", "{}", "/components", "must be an array" },
	{ "/components/0", "\"web\"", "/components/0", "must be an object" },
	{ "/components/0/name", NULL, "/components/0/name", "missing" },
	{ "/components/1/state", NULL, "/components/1/state", "missing" },
	{ "/components/1/state", "\"Sleeping\"", "/components/1/state", "must be one of" },
	{ "/components/0/error", "1", "/components/0/error", "must be an object" },
	{ "/components/0/error/code", "false", "/components/0/error/code", "must be a string" },
};

static void run_cases(const char *base, const struct vcase *cases, size_t n, int status)
{
	json_error_t jerr;

	for (size_t i = 0; i < n; i++) {
		const struct vcase *c = &cases[i];
		struct margo_validation v;
		json_t *doc = json_loads(base, 0, &jerr);
		int r, found = 0;

		assert_non_null(doc);
		set_at(doc, c->pointer, c->value);
		margo_validation_init(&v);
		r = status ? margo_deployment_status_validate(doc, DEPLOYMENT_ID, &v)
			   : margo_capabilities_validate(doc, &v);
		if (c->field == NULL) {
			if (r != MARGO_OK || v.count != 0)
				fail_msg("case %zu (%s): expected valid, got %s: %s", i, c->pointer,
					 v.count ? v.errors[0].field : "?",
					 v.count ? v.errors[0].message : "?");
		} else {
			if (r != MARGO_EINVAL)
				fail_msg("case %zu (%s): expected MARGO_EINVAL, got %d", i, c->pointer, r);
			for (size_t k = 0; k < v.count; k++)
				found |= strcmp(v.errors[k].field, c->field) == 0 &&
					 strstr(v.errors[k].message, c->message) != NULL;
			if (!found || v.count != 1)
				fail_msg("case %zu (%s): want exactly [%s: %s], got %zu errors, first %s: %s",
					 i, c->pointer, c->field, c->message, v.count,
					 v.count ? v.errors[0].field : "-",
					 v.count ? v.errors[0].message : "-");
		}
		json_decref(doc);
	}
}

static void test_capabilities_valid(void **state)
{
	struct margo_validation v;
	json_t *doc = json_loads(valid_capabilities, 0, NULL);

	(void)state;
	assert_non_null(doc);
	margo_validation_init(&v);
	assert_int_equal(margo_capabilities_validate(doc, &v), MARGO_OK);
	assert_int_equal(v.count, 0);
	json_decref(doc);
}

static void test_capabilities_table(void **state)
{
	(void)state;
	run_cases(valid_capabilities, capability_cases,
		  sizeof(capability_cases) / sizeof(capability_cases[0]), 0);
}

static void test_status_valid(void **state)
{
	struct margo_validation v;
	json_t *doc = json_loads(valid_status, 0, NULL);

	(void)state;
	assert_non_null(doc);
	margo_validation_init(&v);
	assert_int_equal(margo_deployment_status_validate(doc, DEPLOYMENT_ID, &v), MARGO_OK);
	assert_int_equal(v.count, 0);
	/* Without a route id, any deploymentId is accepted. */
	assert_int_equal(margo_deployment_status_validate(doc, NULL, &v), MARGO_OK);
	json_decref(doc);
}

static void test_status_table(void **state)
{
	(void)state;
	run_cases(valid_status, status_cases, sizeof(status_cases) / sizeof(status_cases[0]), 1);
}

static void test_not_object(void **state)
{
	struct margo_validation v;
	json_t *arr = json_array();

	(void)state;
	margo_validation_init(&v);
	assert_int_equal(margo_capabilities_validate(arr, &v), MARGO_EINVAL);
	assert_int_equal(v.count, 1);
	assert_string_equal(v.errors[0].field, "");
	margo_validation_init(&v);
	assert_int_equal(margo_deployment_status_validate(NULL, "x", &v), MARGO_EINVAL);
	assert_int_equal(v.count, 1);
	json_decref(arr);
}

static void test_empty_object_lists_required(void **state)
{
	struct margo_validation v;
	json_t *doc = json_object();

	(void)state;
	margo_validation_init(&v);
	assert_int_equal(margo_capabilities_validate(doc, &v), MARGO_EINVAL);
	assert_int_equal(v.count, 3);
	assert_string_equal(v.errors[0].field, "/apiVersion");
	assert_string_equal(v.errors[1].field, "/kind");
	assert_string_equal(v.errors[2].field, "/properties");
	margo_validation_init(&v);
	assert_int_equal(margo_deployment_status_validate(doc, "x", &v), MARGO_EINVAL);
	assert_int_equal(v.count, 4);
	json_decref(doc);
}

static void test_several_problems(void **state)
{
	struct margo_validation v;
	json_t *doc = json_loads(valid_capabilities, 0, NULL);
	json_t *res;

	(void)state;
	assert_non_null(doc);
	/* Several problems in one document are all reported, in document order. */
	res = json_object_get(json_object_get(doc, "properties"), "resources");
	json_object_set_new(res, "cpus", json_pack("[{s:s, s:i}, {s:i}]", "architecture", "x",
						   "cores", 0, "cores", 2));
	json_object_del(res, "memory");
	margo_validation_init(&v);
	assert_int_equal(margo_capabilities_validate(doc, &v), MARGO_EINVAL);
	assert_int_equal(v.count, 3);
	assert_string_equal(v.errors[0].field, "/properties/resources/memory");
	assert_string_equal(v.errors[1].field, "/properties/resources/cpus/0/cores");
	assert_string_equal(v.errors[2].field, "/properties/resources/cpus/1/architecture");
	json_decref(doc);
}

static void test_overflow_counts_dropped(void **state)
{
	struct margo_validation v;
	json_t *doc = json_loads(valid_capabilities, 0, NULL);
	json_t *roles = json_array();

	(void)state;
	for (int i = 0; i < 40; i++)
		json_array_append_new(roles, json_integer(i));
	json_object_set_new(json_object_get(doc, "properties"), "roles", roles);
	margo_validation_init(&v);
	assert_int_equal(margo_capabilities_validate(doc, &v), MARGO_EINVAL);
	assert_int_equal(v.count, MARGO_VALIDATION_MAX);
	assert_int_equal(v.dropped, 40 - MARGO_VALIDATION_MAX);
	assert_string_equal(v.errors[31].field, "/properties/roles/31");
	json_decref(doc);
}

static void test_to_json(void **state)
{
	struct margo_validation v;
	json_t *arr;
	char *s;

	(void)state;
	margo_validation_init(&v);
	margo_validation_add(&v, "/a~1b", "must be %s", "a string");
	margo_validation_add(&v, "/properties/id", "missing");
	arr = margo_validation_to_json(&v);
	assert_non_null(arr);
	s = json_dumps(arr, JSON_COMPACT);
	assert_string_equal(s, "[{\"field\":\"/a~1b\",\"message\":\"must be a string\"},"
			       "{\"field\":\"/properties/id\",\"message\":\"missing\"}]");
	free(s);
	json_decref(arr);
}

static void test_json_pointer(void **state)
{
	char out[160], small[8];

	(void)state;
	margo_json_pointer_append(out, sizeof(out), "", "properties");
	assert_string_equal(out, "/properties");
	margo_json_pointer_append(out, sizeof(out), "/properties", "a/b~c");
	assert_string_equal(out, "/properties/a~1b~0c");
	margo_json_pointer_append(out, sizeof(out), "/x", "~1");
	assert_string_equal(out, "/x/~01");
	margo_json_pointer_append(out, sizeof(out), "", "");
	assert_string_equal(out, "/");
	margo_json_pointer_append(out, sizeof(out), "/roles", "0");
	assert_string_equal(out, "/roles/0");
	/* Cut short, never mid-escape, always terminated. */
	margo_json_pointer_append(small, sizeof(small), "/ab", "cd/e");
	assert_string_equal(small, "/ab/cd");
	margo_json_pointer_append(small, sizeof(small), "/abcdefghij", "x");
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_state_canonical(void **state)
{
	(void)state;
	assert_string_equal(margo_deployment_state_canonical("pending"), "Pending");
	assert_string_equal(margo_deployment_state_canonical("INSTALLING"), "Installing");
	assert_string_equal(margo_deployment_state_canonical("Installed"), "Installed");
	assert_string_equal(margo_deployment_state_canonical("failed"), "Failed");
	assert_string_equal(margo_deployment_state_canonical("rEmOvInG"), "Removing");
	assert_string_equal(margo_deployment_state_canonical("removed"), "Removed");
	assert_null(margo_deployment_state_canonical("Install"));
	assert_null(margo_deployment_state_canonical(""));
	assert_null(margo_deployment_state_canonical(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capabilities_valid),
		cmocka_unit_test(test_capabilities_table),
		cmocka_unit_test(test_status_valid),
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_empty_object_lists_required),
		cmocka_unit_test(test_several_problems),
		cmocka_unit_test(test_overflow_counts_dropped),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_json_pointer),
		cmocka_unit_test(test_state_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
