/* wfmctl device label: a device's labels (/admin/v1/devices/{id}/labels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfmctl.h"

#define DEVICES_PATH "/admin/v1/devices"
#define LABEL_WIDTH 28

const char wfmctl_device_label_help[] =
	"Usage: wfmctl device label ID [KEY=VALUE | KEY-]...\n"
	"\n"
	"Shows or changes a device's labels. KEY=VALUE sets a label, KEY- removes one; all\n"
	"changes of one command are made together or not at all. Without changes, prints the\n"
	"device's labels: the ones operators set, then those derived from what the device\n"
	"reported (under device.margo/: vendor, model, arch, role.<role>, state), which\n"
	"selectors see too but nobody can set.\n"
	"\n"
	"Keys are [prefix/]name: name 1-63 characters of A-Z a-z 0-9 . _ - starting and ending\n"
	"alphanumeric, prefix a DNS subdomain (example.com/ring). Values are empty or like a\n"
	"name. A device carries at most 64 labels.\n"
	"\n"
	"Selectors ('device list --selector', 'rollout create --selector') combine\n"
	"requirements with ',' (all must hold): key=value, key!=value, key in (a,b),\n"
	"key notin (a,b), key (exists), !key (does not exist).\n"
	"\n"
	"Examples:\n"
	"  wfmctl device label 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 plant=3 ring=canary\n"
	"  wfmctl device label 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 ring-\n"
	"  wfmctl device list --selector 'plant=3,device.margo/arch in (arm64,aarch64)'\n";

static void print_labels(const char *title, json_t *obj)
{
	const char *key;
	json_t *v;

	printf("%s:\n", title);
	if (json_object_size(obj) == 0) {
		printf("  (none)\n");
		return;
	}
	json_object_foreach(obj, key, v)
		wfmctl_kv(LABEL_WIDTH, key, json_is_string(v) ? json_string_value(v) : "?");
}

/* The change list as a merge patch: {"k": "v", "gone": null}. */
static int build_patch(struct wfmctl *ctx, char **args, int n, json_t **out)
{
	json_t *patch = json_object();

	if (patch == NULL)
		return wfmctl_fail(ctx, "out of memory");
	for (int i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');
		size_t len = strlen(args[i]);
		int rc;

		if (eq != NULL) {
			*eq = '\0';
			rc = json_object_set_new(patch, args[i], json_string(eq + 1));
			*eq = '=';
		} else if (len > 1 && args[i][len - 1] == '-') {
			args[i][len - 1] = '\0';
			rc = json_object_set_new(patch, args[i], json_null());
			args[i][len - 1] = '-';
		} else {
			json_decref(patch);
			return wfmctl_usage_error(ctx, "'%s': expected KEY=VALUE to set or KEY- to "
						  "remove", args[i]);
		}
		if (rc < 0) {
			json_decref(patch);
			return wfmctl_fail(ctx, "'%s': not a valid key", args[i]);
		}
	}
	*out = patch;
	return 0;
}

int wfmctl_device_label(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1 + 64], *path = NULL, *full = NULL, *raw = NULL;
	json_t *patch = NULL, *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1 + 64, &npos);
	if (ret != 0 || ctx->help) {
		if (ret == 0)
			fputs(wfmctl_device_label_help, stdout);
		return ret;
	}
	if (npos < 1)
		return wfmctl_usage_error(ctx, "which device? give its ID");
	if (npos > 1 && (ret = build_patch(ctx, pos + 1, npos - 1, &patch)) != 0)
		return ret;
	path = wfmctl_path_join(DEVICES_PATH, pos[0]);
	if (path == NULL || asprintf(&full, "%s/labels", path) < 0) {
		full = NULL;
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	ret = wfmctl_call(ctx, patch != NULL ? "PATCH" : "GET", full, patch, &resp, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	if (patch != NULL)
		printf("Labels of device %s changed.\n", pos[0]);
	print_labels("Labels", json_object_get(resp, "labels"));
	print_labels("Derived labels", json_object_get(resp, "derivedLabels"));
out:
	free(path);
	free(full);
	free(raw);
	json_decref(patch);
	json_decref(resp);
	return ret;
}

/* "k=v, k2=v2" of a labels object, newly allocated. */
static char *labels_text(json_t *obj)
{
	char *out = NULL;
	size_t len = 0;
	const char *key;
	json_t *v;
	int first = 1;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	json_object_foreach(obj, key, v) {
		fprintf(f, "%s%s=%s", first ? "" : ",", key, json_is_string(v) ? json_string_value(v) : "?");
		first = 0;
	}
	fclose(f);
	return out;
}

/* Adds the page's devices to table (or, with --json, to all). */
static int select_page(struct wfmctl *ctx, json_t *items, struct wfmctl_table *table, json_t *all)
{
	json_t *d;
	size_t i;

	json_array_foreach(items, i, d) {
		json_t *derived = json_object_get(d, "derivedLabels");
		char *labels;
		int rc;

		if (all != NULL) {
			if (json_array_append(all, d) < 0)
				return wfmctl_fail(ctx, "out of memory");
			continue;
		}
		labels = labels_text(json_object_get(d, "labels"));
		{
			const char *row[6] = {
				wfmctl_json_str(d, "id"), wfmctl_json_str(d, "state"),
				wfmctl_json_str(derived, "device.margo/vendor"),
				wfmctl_json_str(derived, "device.margo/model"),
				wfmctl_json_str(derived, "device.margo/arch"),
				labels != NULL && labels[0] != '\0' ? labels : "-",
			};

			rc = wfmctl_table_add(table, row);
		}
		free(labels);
		if (rc != 0)
			return wfmctl_fail(ctx, "out of memory");
	}
	return 0;
}

int wfmctl_device_select(struct wfmctl *ctx, const char *selector, const char *state)
{
	static const char *const headers[] = { "ID", "STATE", "VENDOR", "MODEL", "ARCH", "LABELS" };
	struct wfmctl_table *table = NULL;
	json_t *resp = NULL, *all = NULL;
	char *enc = wfmctl_path_join("", selector), *path = NULL, next[64] = "";
	size_t count = 0;
	int ret = 0;

	if (enc == NULL)
		return wfmctl_fail(ctx, "out of memory");
	if (ctx->json)
		all = json_array();
	else
		table = wfmctl_table_new(6, headers);
	if (all == NULL && table == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	do {
		const char *n;

		free(path);
		if (asprintf(&path, "%s?selector=%s&limit=1000%s%s%s%s", DEVICES_PATH, enc + 1,
			     state != NULL ? "&state=" : "", state != NULL ? state : "",
			     next[0] != '\0' ? "&after=" : "", next) < 0) {
			path = NULL;
			ret = wfmctl_fail(ctx, "out of memory");
			goto out;
		}
		json_decref(resp);
		resp = NULL;
		ret = wfmctl_call(ctx, "GET", path, NULL, &resp, NULL);
		if (ret != 0)
			goto out;
		count += json_array_size(json_object_get(resp, "items"));
		if ((ret = select_page(ctx, json_object_get(resp, "items"), table, all)) != 0)
			goto out;
		n = wfmctl_json_str(resp, "next");
		snprintf(next, sizeof(next), "%s", n != NULL ? n : "");
	} while (next[0] != '\0');
	if (all != NULL) {
		json_t *doc = json_pack("{s:O}", "items", all);
		char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;

		json_decref(doc);
		if (text == NULL) {
			ret = wfmctl_fail(ctx, "out of memory");
			goto out;
		}
		wfmctl_print_raw(text);
		free(text);
	} else if (count == 0) {
		printf("No device matches %s.\n", selector);
	} else {
		wfmctl_table_print(table);
		printf("%zu device%s match%s.\n", count, count == 1 ? "" : "s", count == 1 ? "es" : "");
	}
out:
	wfmctl_table_free(table);
	json_decref(all);
	json_decref(resp);
	free(path);
	free(enc);
	return ret;
}
