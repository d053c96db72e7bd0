#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "margo/appdeploy.h"
#include "margo/error.h"
#include "margo/validate.h"

/* The samples operators see in docs/examples are the ones tested here. */
#define EXAMPLES_DIR FIXTURES_DIR "/../../docs/examples"
#define HELM_FILE EXAMPLES_DIR "/deployment-helm.yaml"
#define COMPOSE_FILE EXAMPLES_DIR "/deployment-compose.yaml"
#define HELM_ID "6f1c2b9e-4d3a-4b7e-9a51-2f0c8e7d1a34"

static char *load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* text with its only occurrence of from replaced by to (the test fails when from is not found
 * exactly once, so a case cannot silently test nothing). */
static char *replace_once(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t head, n;
	char *out;

	if (at == NULL || strstr(at + 1, from) != NULL)
		fail_msg("\"%s\" must occur exactly once in the sample", from);
	head = (size_t)(at - text);
	n = strlen(text) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, text, head);
	memcpy(out + head, to, strlen(to));
	strcpy(out + head + strlen(to), at + strlen(from));
	return out;
}

static void print_errors(const char *name, const struct margo_validation *v)
{
	for (size_t i = 0; i < v->count; i++)
		print_message("%s: error %zu: %s: %s\n", name, i, v->errors[i].field,
			      v->errors[i].message);
}

static void test_valid_helm(void **state)
{
	char *yaml = load_file(HELM_FILE);
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;

	assert_int_equal(margo_appdeploy_parse(yaml, strlen(yaml), &d, &v), 0);
	assert_int_equal(v.count, 0);
	assert_non_null(d);
	assert_string_equal(d->name, "sensor-dashboard");
	assert_string_equal(d->namespace_, "margo");
	assert_string_equal(d->id, HELM_ID);
	assert_string_equal(d->application_id, "com.example.sensor-dashboard");
	assert_string_equal(d->profile_type, "helm.v3");
	assert_int_equal(d->ncomponents, 2);
	assert_string_equal(d->components[0], "dashboard");
	assert_string_equal(d->components[1], "timeseries-db");
	margo_appdeploy_free(d);
	/* Validation only. */
	assert_int_equal(margo_appdeploy_parse(yaml, strlen(yaml), NULL, &v), 0);
	free(yaml);
	margo_appdeploy_free(NULL);
}

static void test_valid_compose(void **state)
{
	char *yaml = load_file(COMPOSE_FILE);
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;

	assert_int_equal(margo_appdeploy_parse(yaml, strlen(yaml), &d, &v), 0);
	assert_non_null(d);
	assert_string_equal(d->name, "edge-gateway");
	assert_null(d->id);
	assert_string_equal(d->application_id, "com.example.edge-gateway");
	assert_string_equal(d->profile_type, "compose");
	assert_int_equal(d->ncomponents, 1);
	assert_string_equal(d->components[0], "gateway");
	margo_appdeploy_free(d);
	free(yaml);
}

/* Other valid spellings: flow style, explicit "---" and "...", anchors and aliases, quoted
 * scalars, an empty id (treated as absent), CRLF line ends. */
static void test_valid_variants(void **state)
{
	static const char *const docs[] = {
		"{apiVersion: application.margo.org/v1alpha1, kind: ApplicationDeployment,"
		" metadata: {name: a, namespace: b, annotations: {applicationId: x, id: y}},"
		" spec: {deploymentProfile: {type: compose,"
		"  components: [{name: c, properties: {packageLocation: p}}]}}}",

		"%YAML 1.1\n---\napiVersion: \"application.margo.org/v1alpha1\"\n"
		"kind: 'ApplicationDeployment'\nmetadata:\n  name: a\n  namespace: b\n"
		"  annotations:\n    applicationId: x\n    id:\nspec:\n  deploymentProfile:\n"
		"    type: helm.v3\n    components:\n    - name: &n web\n      properties:\n"
		"        repository: oci://r/web\n    - name: \"123\"\n      properties: &p\n"
		"        repository: oci://r/db\n  parameters:\n    p1:\n      value: true\n"
		"      targets:\n      - pointer: a.b\n        components: &both [*n, \"123\"]\n"
		"    p2:\n      value: 1.5\n      targets:\n      - {pointer: c, components: *both}\n"
		"...\n",

		"apiVersion: application.margo.org/v1alpha1\r\nkind: ApplicationDeployment\r\n"
		"metadata:\r\n  name: a\r\n  namespace: b\r\n  annotations:\r\n"
		"    applicationId: x\r\nspec:\r\n  deploymentProfile:\r\n    type: compose\r\n"
		"    components:\r\n      - name: c\r\n        properties:\r\n"
		"          packageLocation: p\r\n  parameters: {}\r\n",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct margo_appdeploy *d = NULL;
		struct margo_validation v;
		int rc = margo_appdeploy_parse(docs[i], strlen(docs[i]), &d, &v);

		if (rc != 0) {
			print_errors("variant", &v);
			fail_msg("variant %zu: rc %d", i, rc);
		}
		assert_string_equal(d->name, "a");
		assert_true(d->ncomponents >= 1);
		margo_appdeploy_free(d);
	}
}

struct broken_case {
	const char *name;
	const char *sample;  /* HELM_FILE or COMPOSE_FILE */
	const char *from;
	const char *to;
	const char *field;   /* expected: the first error's field */
	size_t count;        /* expected number of errors */
};

static const struct broken_case broken_cases[] = {
	{ "apiVersion wrong", HELM_FILE, "apiVersion: application.margo.org/v1alpha1",
	  "apiVersion: application.margo.org/v1", "/apiVersion", 1 },
	{ "apiVersion missing", HELM_FILE, "apiVersion: application.margo.org/v1alpha1\n", "",
	  "/apiVersion", 1 },
	{ "kind wrong", HELM_FILE, "kind: ApplicationDeployment", "kind: ApplicationDescription",
	  "/kind", 1 },
	{ "kind not a string", HELM_FILE, "kind: ApplicationDeployment", "kind: [a]", "/kind", 1 },
	{ "name missing", HELM_FILE, "  name: sensor-dashboard\n", "", "/metadata/name", 1 },
	{ "name empty", HELM_FILE, "  name: sensor-dashboard\n", "  name: ''\n", "/metadata/name",
	  1 },
	{ "name null", HELM_FILE, "  name: sensor-dashboard\n", "  name: ~\n", "/metadata/name",
	  1 },
	{ "name with a newline", HELM_FILE, "  name: sensor-dashboard\n",
	  "  name: \"sensor\\ndashboard\"\n", "/metadata/name", 1 },
	{ "component name with a tab", COMPOSE_FILE, "- name: gateway", "- name: \"gate\\tway\"",
	  "/spec/deploymentProfile/components/0/name", 1 },
	{ "namespace number", HELM_FILE, "namespace: margo", "namespace: 42",
	  "/metadata/namespace", 1 },
	{ "namespace duplicate", HELM_FILE, "  namespace: margo\n",
	  "  namespace: margo\n  namespace: other\n", "/metadata/namespace", 1 },
	{ "metadata not a mapping", HELM_FILE, "metadata:\n  annotations:",
	  "metadata: m\nmeta:\n  annotations:", "/metadata", 1 },
	{ "annotations missing", HELM_FILE, "  annotations:\n    id: " HELM_ID "\n"
	  "    applicationId: com.example.sensor-dashboard\n", "", "/metadata/annotations", 1 },
	{ "applicationId missing", HELM_FILE,
	  "    applicationId: com.example.sensor-dashboard\n", "",
	  "/metadata/annotations/applicationId", 1 },
	{ "id with a slash", HELM_FILE, "id: " HELM_ID, "id: ../etc", "/metadata/annotations/id",
	  1 },
	{ "id boolean", HELM_FILE, "id: " HELM_ID, "id: true", "/metadata/annotations/id", 1 },
	{ "id empty string", HELM_FILE, "id: " HELM_ID, "id: \"\"", "/metadata/annotations/id",
	  1 },
	{ "spec missing", COMPOSE_FILE, "spec:\n", "spec_:\n", "/spec", 1 },
	{ "deploymentProfile list", COMPOSE_FILE, "  deploymentProfile:\n    type: compose\n",
	  "  deploymentProfile: []\n  x:\n    type: compose\n", "/spec/deploymentProfile", 1 },
	{ "type unknown", HELM_FILE, "type: helm.v3", "type: helm.v2",
	  "/spec/deploymentProfile/type", 1 },
	{ "type missing", HELM_FILE, "    type: helm.v3\n", "", "/spec/deploymentProfile/type", 1 },
	{ "helm components in a compose profile", HELM_FILE, "type: helm.v3", "type: compose",
	  "/spec/deploymentProfile/components/0/properties/packageLocation", 2 },
	{ "compose components in a helm profile", COMPOSE_FILE, "type: compose",
	  "type: helm.v3", "/spec/deploymentProfile/components/0/properties/repository", 1 },
	{ "component name empty", HELM_FILE, "- name: dashboard", "- name: \"\"",
	  "/spec/deploymentProfile/components/0/name", 1 },
	{ "component name duplicate", HELM_FILE, "- name: timeseries-db", "- name: dashboard",
	  "/spec/deploymentProfile/components/1/name", 1 },
	{ "component not a mapping", COMPOSE_FILE, "      - name: gateway\n",
	  "      - gateway\n      - name: gateway\n", "/spec/deploymentProfile/components/0", 1 },
	{ "components empty", COMPOSE_FILE, "    components:\n      - name: gateway\n"
	  "        properties:\n",
	  "    components: []\n    x:\n      - name: gateway\n        properties:\n",
	  "/spec/deploymentProfile/components", 1 },
	{ "repository missing", HELM_FILE,
	  "          repository: oci://registry.example.com/charts/timeseries-db\n", "",
	  "/spec/deploymentProfile/components/1/properties/repository", 1 },
	{ "properties not a mapping", HELM_FILE, "        properties:\n"
	  "          repository: oci://registry.example.com/charts/sensor-dashboard\n",
	  "        properties: [a]\n        x:\n"
	  "          repository: oci://registry.example.com/charts/sensor-dashboard\n",
	  "/spec/deploymentProfile/components/0/properties", 1 },
	{ "packageLocation empty", COMPOSE_FILE,
	  "packageLocation: https://packages.example.com/edge-gateway/2.1.0/compose.tar.gz",
	  "packageLocation: ''", "/spec/deploymentProfile/components/0/properties/packageLocation",
	  1 },
	{ "unknown target component", HELM_FILE, "components: [dashboard]",
	  "components: [dashbaord]", "/spec/parameters/refreshInterval/targets/0/components/0",
	  1 },
	{ "target components empty", COMPOSE_FILE, "          components: [gateway]\n    logLevel",
	  "          components: []\n    logLevel", "/spec/parameters/mqttBroker/targets/0/components",
	  1 },
	{ "value missing", HELM_FILE, "      value: 14\n", "",
	  "/spec/parameters/retentionDays/value", 1 },
	{ "value a mapping", HELM_FILE, "value: operator", "value: {a: 1}",
	  "/spec/parameters/adminUser/value", 1 },
	{ "targets empty", HELM_FILE, "      targets:\n        - pointer: storage.retentionDays\n"
	  "          components: [\"timeseries-db\"]\n", "      targets: []\n",
	  "/spec/parameters/retentionDays/targets", 1 },
	{ "targets missing", COMPOSE_FILE, "      targets:\n        - pointer: ENV.LOG_LEVEL\n"
	  "          components: [gateway]\n", "", "/spec/parameters/logLevel/targets", 1 },
	{ "pointer missing", HELM_FILE, "pointer: auth.adminUser", "pointr: auth.adminUser",
	  "/spec/parameters/adminUser/targets/0/pointer", 1 },
	{ "parameter name escaped", HELM_FILE, "    adminUser:\n      value: operator\n",
	  "    admin/User~1:\n      value: [operator]\n", "/spec/parameters/admin~1User~01/value",
	  1 },
	{ "parameters not a mapping", COMPOSE_FILE, "  parameters:\n    mqttBroker:",
	  "  parameters: [1]\n  params:\n    mqttBroker:", "/spec/parameters", 1 },
	{ "root a list", COMPOSE_FILE, "apiVersion: application.margo.org/v1alpha1\n",
	  "- apiVersion: x\n-\n  a: application.margo.org/v1alpha1\n", "", 1 },
};

static void test_broken_fields(void **state)
{
	for (size_t i = 0; i < sizeof(broken_cases) / sizeof(broken_cases[0]); i++) {
		const struct broken_case *c = &broken_cases[i];
		char *sample = load_file(c->sample);
		char *yaml = replace_once(sample, c->from, c->to);
		struct margo_appdeploy *d = (struct margo_appdeploy *)1;
		struct margo_validation v;
		int rc = margo_appdeploy_parse(yaml, strlen(yaml), &d, &v);

		if (rc != MARGO_EINVAL || v.count != c->count ||
		    strcmp(v.errors[0].field, c->field) != 0) {
			print_errors(c->name, &v);
			fail_msg("case \"%s\": rc %d, %zu errors, expected field %s", c->name, rc,
				 v.count, c->field);
		}
		assert_null(d);
		assert_true(v.errors[0].message[0] != '\0');
		free(yaml);
		free(sample);
	}
}

struct syntax_case {
	const char *name;
	const char *yaml;
	const char *message;  /* expected in the message */
};

static const struct syntax_case syntax_cases[] = {
	{ "unclosed flow list", "apiVersion: [a, b\nkind: x\n", "line" },
	{ "bad indentation", "a:\n  b: 1\n c: 2\n", "line 3" },
	{ "tab indentation", "a:\n\tb: 1\n", "line 2" },
	{ "unknown alias", "a: *nothing\n", "line 1" },
	{ "unterminated quote", "a: \"abc\n", "line" },
	{ "two documents", "a: 1\n---\nb: 2\n", "more than one YAML document" },
	{ "empty", "", "empty document" },
	{ "comment only", "# nothing here\n", "empty document" },
	{ "scalar root", "just text\n", "must be a mapping" },
	{ "invalid UTF-8", "a: \xff\xfe\n", "line" },
};

static void test_syntax_errors(void **state)
{
	for (size_t i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		const struct syntax_case *c = &syntax_cases[i];
		struct margo_appdeploy *d = NULL;
		struct margo_validation v;
		int rc = margo_appdeploy_parse(c->yaml, strlen(c->yaml), &d, &v);

		if (rc != MARGO_EINVAL || v.count != 1 || v.errors[0].field[0] != '\0' ||
		    strstr(v.errors[0].message, c->message) == NULL) {
			print_errors(c->name, &v);
			fail_msg("case \"%s\": rc %d, %zu errors", c->name, rc, v.count);
		}
		assert_null(d);
	}
}

/* A NUL byte inside the given length is not YAML. */
static void test_nul_byte(void **state)
{
	static const char yaml[] = "a: b\0c\n";
	struct margo_validation v;

	assert_int_equal(margo_appdeploy_parse(yaml, sizeof(yaml) - 1, NULL, &v), MARGO_EINVAL);
	assert_int_equal(v.count, 1);
	assert_string_equal(v.errors[0].field, "");
}

static void test_too_deep(void **state)
{
	size_t depth = 65, n = 0;
	char *yaml = malloc(2 * depth + 8);
	struct margo_validation v;

	assert_non_null(yaml);
	n += (size_t)sprintf(yaml, "a: ");
	for (size_t i = 0; i < depth; i++)
		yaml[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		yaml[n++] = ']';
	yaml[n] = '\0';
	assert_int_equal(margo_appdeploy_parse(yaml, n, NULL, &v), MARGO_EINVAL);
	assert_non_null(strstr(v.errors[0].message, "nested deeper"));
	free(yaml);
}

static void test_oversized(void **state)
{
	size_t n = MARGO_APPDEPLOY_MAX + 1;
	char *yaml = malloc(n + 1);
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;
	char *out = NULL;
	size_t out_len = 0;
	struct margo_error err;

	assert_non_null(yaml);
	memset(yaml, '#', n);
	yaml[n] = '\0';
	assert_int_equal(margo_appdeploy_parse(yaml, n, &d, &v), MARGO_ETOOBIG);
	assert_null(d);
	assert_int_equal(margo_appdeploy_set_id(yaml, n, "x", &out, &out_len, &err),
			 MARGO_ETOOBIG);
	assert_null(out);
	/* Exactly the limit is read (and is merely empty). */
	assert_int_equal(margo_appdeploy_parse(yaml, n - 1, &d, &v), MARGO_EINVAL);
	free(yaml);
}

/* Many parameters sharing one aliased list of many components: bounded work and a clear
 * error, not a stall. */
static void test_limits(void **state)
{
	size_t cap = 64 * 1024, n;
	char *yaml = malloc(cap);
	struct margo_validation v;

	assert_non_null(yaml);
	n = (size_t)snprintf(yaml, cap,
			     "apiVersion: application.margo.org/v1alpha1\n"
			     "kind: ApplicationDeployment\nmetadata: {name: a, namespace: b,"
			     " annotations: {applicationId: x}}\nspec:\n  deploymentProfile:\n"
			     "    type: compose\n    components:\n");
	for (int i = 0; i < 257; i++)
		n += (size_t)snprintf(yaml + n, cap - n,
				      "    - {name: c%d, properties: {packageLocation: p}}\n", i);
	assert_true(n < cap);
	assert_int_equal(margo_appdeploy_parse(yaml, n, NULL, &v), MARGO_EINVAL);
	assert_string_equal(v.errors[0].field, "/spec/deploymentProfile/components");
	free(yaml);
}

static void test_id_valid(void **state)
{
	static const struct {
		const char *id;
		int ok;
	} cases[] = {
		{ HELM_ID, 1 }, { "a", 1 }, { "web_1.v2-x", 1 }, { "", 0 }, { ".hidden", 0 },
		{ "a/b", 0 }, { "a b", 0 }, { "..", 0 }, { "caf\xc3\xa9", 0 }, { NULL, 0 },
	};
	char longid[130];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(margo_appdeploy_id_valid(cases[i].id), cases[i].ok);
	memset(longid, 'a', 128);
	longid[128] = '\0';
	assert_int_equal(margo_appdeploy_id_valid(longid), 1);
	longid[128] = 'a';
	longid[129] = '\0';
	assert_int_equal(margo_appdeploy_id_valid(longid), 0);
}

/* Parses out (it must be valid) and compares its summary with the original's. */
static void assert_same_but_id(const char *orig, const char *out, size_t out_len,
			       const char *id)
{
	struct margo_appdeploy *a = NULL, *b = NULL;
	struct margo_validation v;

	assert_int_equal(strlen(out), out_len);
	assert_int_equal(margo_appdeploy_parse(orig, strlen(orig), &a, &v), 0);
	if (margo_appdeploy_parse(out, out_len, &b, &v) != 0) {
		print_errors("re-parse", &v);
		fail_msg("set_id output is not valid:\n%s", out);
	}
	assert_string_equal(b->id, id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->namespace_, b->namespace_);
	assert_string_equal(a->application_id, b->application_id);
	assert_string_equal(a->profile_type, b->profile_type);
	assert_int_equal(a->ncomponents, b->ncomponents);
	for (size_t i = 0; i < a->ncomponents; i++)
		assert_string_equal(a->components[i], b->components[i]);
	margo_appdeploy_free(a);
	margo_appdeploy_free(b);
}

static void test_set_id_replaces(void **state)
{
	char *yaml = load_file(HELM_FILE);
	char *out = NULL, *again = NULL;
	size_t out_len = 0, again_len = 0;
	struct margo_error err;

	assert_int_equal(margo_appdeploy_set_id(yaml, strlen(yaml), "dep-42", &out, &out_len,
						&err), 0);
	assert_same_but_id(yaml, out, out_len, "dep-42");
	assert_null(strstr(out, HELM_ID));
	/* The rest is kept: values as written, the key order, flow lists, quoting. */
	assert_non_null(strstr(out, "revision: 1.4.2\n"));
	assert_non_null(strstr(out, "value: \"30\"\n"));
	assert_non_null(strstr(out, "value: 14\n"));
	assert_non_null(strstr(out, "components: [\"timeseries-db\"]"));
	assert_non_null(strstr(out, "timeout: 5m\n"));
	assert_true(strstr(out, "apiVersion:") < strstr(out, "kind:"));
	assert_true(strstr(out, "kind:") < strstr(out, "metadata:"));
	assert_true(strstr(out, "id: dep-42") < strstr(out, "applicationId:"));
	assert_true(strstr(out, "refreshInterval:") < strstr(out, "retentionDays:"));
	/* Setting the same id again is a fixed point. */
	assert_int_equal(margo_appdeploy_set_id(out, out_len, "dep-42", &again, &again_len, &err),
			 0);
	assert_int_equal(again_len, out_len);
	assert_memory_equal(again, out, out_len);
	free(again);
	free(out);
	free(yaml);
}

static void test_set_id_creates(void **state)
{
	char *yaml = load_file(COMPOSE_FILE);
	char *out = NULL;
	size_t out_len = 0;
	struct margo_error err;

	assert_int_equal(margo_appdeploy_set_id(yaml, strlen(yaml), HELM_ID, &out, &out_len,
						&err), 0);
	assert_same_but_id(yaml, out, out_len, HELM_ID);
	assert_non_null(strstr(out, "value: 'mqtt://broker.local:1883'\n"));
	assert_non_null(strstr(out, "keyLocation: https://packages.example.com/edge-gateway/"));
	free(out);
	free(yaml);
}

static void test_set_id_styles(void **state)
{
	static const char flow[] =
		"{apiVersion: application.margo.org/v1alpha1, kind: ApplicationDeployment,"
		" metadata: {name: a, namespace: b, annotations: {applicationId: x, id: 'old'}},"
		" spec: {deploymentProfile: {type: compose,"
		"  components: [{name: c, properties: {packageLocation: p}}]}}}\n";
	/* The id shares its node with applicationId through an alias: only the id changes. */
	static const char aliased[] =
		"apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\n"
		"metadata:\n  name: a\n  namespace: b\n  annotations:\n"
		"    applicationId: &app same\n    id: *app\n"
		"spec:\n  deploymentProfile:\n    type: compose\n    components:\n"
		"      - name: c\n        properties:\n          packageLocation: p\n"
		"  labels: &l [x, *l]\n";
	char *out = NULL;
	size_t out_len = 0;
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;
	struct margo_error err;

	assert_int_equal(margo_appdeploy_set_id(flow, strlen(flow), "new", &out, &out_len, &err),
			 0);
	assert_same_but_id(flow, out, out_len, "new");
	assert_non_null(strstr(out, "id: 'new'"));
	assert_non_null(strstr(out, "{name: c, properties: {packageLocation: p}}"));
	free(out);

	assert_int_equal(margo_appdeploy_set_id(aliased, strlen(aliased), "other", &out,
						&out_len, &err), 0);
	assert_int_equal(margo_appdeploy_parse(out, out_len, &d, &v), 0);
	assert_string_equal(d->id, "other");
	assert_string_equal(d->application_id, "same");
	margo_appdeploy_free(d);
	free(out);
}

static void test_set_id_refuses(void **state)
{
	char *yaml = load_file(HELM_FILE);
	char *bad = replace_once(yaml, "type: helm.v3", "type: nope");
	char *out = (char *)1;
	size_t out_len = 1;
	struct margo_error err;

	assert_int_equal(margo_appdeploy_set_id(bad, strlen(bad), "x", &out, &out_len, &err),
			 MARGO_EINVAL);
	assert_null(out);
	assert_int_equal(out_len, 0);
	assert_non_null(strstr(err.message, "/spec/deploymentProfile/type"));
	assert_int_equal(margo_appdeploy_set_id(yaml, strlen(yaml), "a/b", &out, &out_len, &err),
			 MARGO_EINVAL);
	assert_int_equal(margo_appdeploy_set_id("a: [", 4, "x", &out, &out_len, &err),
			 MARGO_EINVAL);
	assert_non_null(strstr(err.message, "YAML syntax error at line"));
	free(bad);
	free(yaml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_helm),
		cmocka_unit_test(test_valid_compose),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_broken_fields),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_set_id_replaces),
		cmocka_unit_test(test_set_id_creates),
		cmocka_unit_test(test_set_id_styles),
		cmocka_unit_test(test_set_id_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
