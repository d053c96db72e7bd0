/* margo-agent capability probe on fixture /proc and /sys trees (tests/fixtures/agent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>
#include <jansson.h>

#include "margo/validate.h"
#include "probe.h"

#define X86 FIXTURES_DIR "/agent/probe-x86"
#define ARM FIXTURES_DIR "/agent/probe-arm"

static json_t *probe(const struct agent_probe_options *o)
{
	struct margo_validation v;
	struct margo_error err;
	json_t *doc = NULL;

	if (agent_probe_capabilities(o, &doc, &err) != 0)
		fail_msg("probe: %s", err.message);
	margo_validation_init(&v);
	if (margo_capabilities_validate(doc, &v) != 0)
		fail_msg("invalid document: %s: %s", v.errors[0].field, v.errors[0].message);
	return doc;
}

static const char *str_at(json_t *doc, const char *path)
{
	/* path: dot-separated members and array indices */
	char buf[256], *save = NULL, *tok;
	json_t *cur = doc;

	strcpy(buf, path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(cur))
			cur = json_array_get(cur, (size_t)atoi(tok));
		else
			cur = json_object_get(cur, tok);
	}
	return json_string_value(cur);
}

static json_t *at(json_t *doc, const char *a, const char *b, const char *c)
{
	json_t *x = json_object_get(doc, a);

	if (b != NULL)
		x = json_object_get(x, b);
	if (c != NULL)
		x = json_object_get(x, c);
	return x;
}

static void test_x86_fixture(void **state)
{
	struct agent_probe_options o = { .root = X86, .storage_path = "/" };
	struct utsname un;
	json_t *doc, *cpu, *ifs, *per, *eth;

	(void)state;
	doc = probe(&o);
	assert_string_equal(str_at(doc, "apiVersion"), "device.margo/v1");
	assert_string_equal(str_at(doc, "kind"), "DeviceCapabilities");
	assert_string_equal(str_at(doc, "properties.vendor"), "Advantech");
	assert_string_equal(str_at(doc, "properties.modelNumber"), "UNO-2484G");
	assert_string_equal(str_at(doc, "properties.serialNumber"), "ADV-SN-0042");
	/* no device id yet: the serial number */
	assert_string_equal(str_at(doc, "properties.id"), "ADV-SN-0042");
	assert_string_equal(str_at(doc, "properties.roles.0"), "standalone device");
	cpu = json_array_get(at(doc, "properties", "resources", "cpus"), 0);
	uname(&un);
	assert_string_equal(json_string_value(json_object_get(cpu, "architecture")), un.machine);
	assert_int_equal(json_integer_value(json_object_get(cpu, "cores")), 4);
	/* cpufreq's maximum (4.1 GHz) wins over the current "cpu MHz" */
	assert_string_equal(json_string_value(json_object_get(cpu, "frequency")), "4.1 GHz");
	assert_string_equal(json_string_value(at(doc, "properties", "resources", "memory")), "8.24 GB");
	assert_true(atof(json_string_value(at(doc, "properties", "resources", "storage"))) > 0);
	assert_non_null(strstr(json_string_value(at(doc, "properties", "resources", "storage")), " GB"));

	/* lo (loopback) and docker0 (virtual, no device) are skipped; sorted by name */
	ifs = at(doc, "properties", "interfaces", NULL);
	assert_int_equal(json_array_size(ifs), 2);
	eth = json_array_get(ifs, 0);
	assert_string_equal(str_at(eth, "name"), "eth0");
	assert_string_equal(str_at(eth, "type"), "ethernet");
	assert_string_equal(str_at(eth, "modelNumber"), "8086:15bb");
	assert_string_equal(str_at(eth, "properties.driver"), "e1000e");
	assert_string_equal(str_at(eth, "properties.vendor"), "Intel");
	assert_string_equal(str_at(eth, "properties.macAddress"), "00:0b:ab:12:34:56");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(eth, "properties"),
							    "speedMbps")), 1000);
	assert_string_equal(str_at(doc, "properties.interfaces.1.name"), "wlan0");
	assert_string_equal(str_at(doc, "properties.interfaces.1.type"), "wifi");
	assert_string_equal(str_at(doc, "properties.interfaces.1.modelNumber"), "iwlwifi");
	assert_null(json_object_get(json_object_get(json_array_get(ifs, 1), "properties"),
				    "speedMbps"));

	/* host bridge (0x06) and NIC (0x02) are not peripherals; GPU and accelerator are */
	per = at(doc, "properties", "peripherals", NULL);
	assert_int_equal(json_array_size(per), 2);
	assert_string_equal(str_at(doc, "properties.peripherals.0.name"), "0000:01:00.0");
	assert_string_equal(str_at(doc, "properties.peripherals.0.type"), "gpu");
	assert_string_equal(str_at(doc, "properties.peripherals.0.modelNumber"), "10de:1eb8");
	assert_string_equal(str_at(doc, "properties.peripherals.0.properties.vendor"), "NVIDIA");
	assert_string_equal(str_at(doc, "properties.peripherals.0.properties.driver"), "nvidia");
	assert_string_equal(str_at(doc, "properties.peripherals.0.properties.class"), "0x030000");
	assert_string_equal(str_at(doc, "properties.peripherals.1.type"), "accelerator");
	assert_string_equal(str_at(doc, "properties.peripherals.1.modelNumber"), "1ae0:089a");
	json_decref(doc);
}

static void test_arm_fixture(void **state)
{
	struct agent_probe_options o = { .root = ARM };
	json_t *doc, *cpu, *eth;

	(void)state;
	doc = probe(&o);
	/* DMI placeholder text is ignored; device tree gives model and serial */
	assert_string_equal(str_at(doc, "properties.vendor"), "unknown");
	assert_string_equal(str_at(doc, "properties.modelNumber"), "Raspberry Pi 4 Model B Rev 1.4");
	assert_string_equal(str_at(doc, "properties.serialNumber"), "10000000abcdef01");
	cpu = json_array_get(at(doc, "properties", "resources", "cpus"), 0);
	assert_int_equal(json_integer_value(json_object_get(cpu, "cores")), 2);
	assert_null(json_object_get(cpu, "frequency"));
	assert_string_equal(json_string_value(at(doc, "properties", "resources", "memory")), "3.98 GB");
	eth = json_array_get(at(doc, "properties", "interfaces", NULL), 0);
	assert_string_equal(str_at(eth, "name"), "end0");
	assert_string_equal(str_at(eth, "modelNumber"), "bcmgenet");
	/* link down: speed -1 is not reported */
	assert_null(json_object_get(json_object_get(eth, "properties"), "speedMbps"));
	assert_int_equal(json_array_size(at(doc, "properties", "peripherals", NULL)), 0);
	json_decref(doc);
}

static void test_overrides(void **state)
{
	static const char *const roles[] = { "cluster leader", "standalone cluster" };
	struct agent_probe_options o = {
		.root = X86, .device_id = "6f1c0000-0000-4000-8000-000000000001",
		.vendor = "ACME", .model_number = "Edge-9", .serial_number = "SN-9",
		.roles = roles, .nroles = 2,
	};
	json_t *doc;

	(void)state;
	doc = probe(&o);
	assert_string_equal(str_at(doc, "properties.id"), "6f1c0000-0000-4000-8000-000000000001");
	assert_string_equal(str_at(doc, "properties.vendor"), "ACME");
	assert_string_equal(str_at(doc, "properties.modelNumber"), "Edge-9");
	assert_string_equal(str_at(doc, "properties.serialNumber"), "SN-9");
	assert_string_equal(str_at(doc, "properties.roles.0"), "cluster leader");
	assert_string_equal(str_at(doc, "properties.roles.1"), "standalone cluster");
	json_decref(doc);
}

static void test_identity(void **state)
{
	struct agent_probe_options o = { .root = X86, .serial_number = "OVR" };
	struct margo_error err;
	char *v, *m, *s;

	(void)state;
	assert_int_equal(agent_probe_identity(&o, &v, &m, &s, &err), 0);
	assert_string_equal(v, "Advantech");
	assert_string_equal(m, "UNO-2484G");
	assert_string_equal(s, "OVR");
	free(v);
	free(m);
	free(s);
}

static void test_empty_root(void **state)
{
	struct agent_probe_options o = { .root = FIXTURES_DIR "/agent/does-not-exist" };
	json_t *doc;

	(void)state;
	/* nothing readable: still a valid document with fallbacks */
	doc = probe(&o);
	assert_string_equal(str_at(doc, "properties.vendor"), "unknown");
	assert_non_null(str_at(doc, "properties.serialNumber"));
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(at(doc, "properties", "resources", "cpus"), 0), "cores")), 1);
	json_decref(doc);
}

static void test_hash(void **state)
{
	struct agent_probe_options o = { .root = X86 };
	char h1[MARGO_TOKEN_HASH_LEN], h2[MARGO_TOKEN_HASH_LEN], h3[MARGO_TOKEN_HASH_LEN];
	json_t *a, *b, *c;

	(void)state;
	a = probe(&o);
	b = probe(&o);
	o.root = ARM;
	c = probe(&o);
	assert_int_equal(agent_probe_hash(a, h1), 0);
	assert_int_equal(agent_probe_hash(b, h2), 0);
	assert_int_equal(agent_probe_hash(c, h3), 0);
	assert_int_equal(strlen(h1), 64);
	assert_string_equal(h1, h2);
	assert_string_not_equal(h1, h3);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x86_fixture),
		cmocka_unit_test(test_arm_fixture),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
