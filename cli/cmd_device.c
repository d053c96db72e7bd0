/* wfmctl device list|show|approve|reject|revoke: /admin/v1/devices */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfmctl.h"

#define DEVICES_PATH "/admin/v1/devices"
#define KV_WIDTH 14

static const char list_help[] =
	"Usage: wfmctl device list [--state S] [FILTERS] [--limit N [--after CURSOR]]\n"
	"       wfmctl device list --selector S [--state S]\n"
	"\n"
	"Lists devices and onboarding requests waiting for approval (state pending), oldest\n"
	"first. The ID column is what 'device show', 'approve', 'reject' and 'revoke' take; for\n"
	"an active device it is also its OAuth client id. The server answers in pages; wfmctl\n"
	"reads them all (or the first N with --limit, then says how to continue).\n"
	"\n"
	"Options:\n"
	"  --state S             only devices in state S (pending, active, rejected, revoked)\n"
	"  --vendor V            only devices whose vendor is V (exactly)\n"
	"  --model M             only devices whose model number is M (exactly)\n"
	"  --serial-prefix P     only devices whose serial number starts with P\n"
	"  --id-prefix P         only devices whose id starts with P\n"
	"  --seen-before T       only devices last seen before T (RFC 3339; never seen counts)\n"
	"  --seen-after T        only devices last seen at or after T (RFC 3339)\n"
	"  --deployment-state S  only devices with a deployment whose latest reported state\n"
	"                        is S (Pending, Installing, Installed, Failed, Removing, ...)\n"
	"  --limit N             at most N devices; then 'More: add --after CURSOR'\n"
	"  --after CURSOR        continue a --limit listing after CURSOR\n"
	"  --selector S          only devices whose labels match S, shown with their labels (see\n"
	"                        'wfmctl device label --help' for labels and the selector grammar)\n"
	"\n"
	"With --json: one document {\"items\": [...], \"next\": CURSOR or null}, written as the\n"
	"pages arrive.\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd device list\n"
	"  wfmctl --data-dir /var/lib/wfmd device list --state pending\n"
	"  wfmctl --data-dir /var/lib/wfmd device list --vendor acme --seen-before 2026-12-01T00:00:00Z\n"
	"  wfmctl --data-dir /var/lib/wfmd device list --deployment-state Failed --limit 20\n"
	"  wfmctl --data-dir /var/lib/wfmd device list --selector 'plant=3,device.margo/arch=arm64'\n"
	"  wfmctl --data-dir /var/lib/wfmd --json device list | jq -r '.items[].id'\n";

static const char show_help[] =
	"Usage: wfmctl device show ID\n"
	"\n"
	"Shows one device: identity, state, certificate fingerprint, last contact, the\n"
	"capabilities it reported and its deployments with their latest reported state and\n"
	"error ('not reported' until the device's agent reports), then the state of each\n"
	"deployment's components. Deployments the device reported but that are not (or no\n"
	"longer) deployed to it show without name and application.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd device show 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

static const char approve_help[] =
	"Usage: wfmctl device approve ID\n"
	"\n"
	"Approves a pending onboarding request ('device list --state pending'). The device\n"
	"receives its credentials the next time it polls.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd device approve 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

static const char reject_help[] =
	"Usage: wfmctl device reject ID\n"
	"\n"
	"Rejects a pending onboarding request. The device is told so when it polls; its\n"
	"certificate stays rejected.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd device reject 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

static const char revoke_help[] =
	"Usage: wfmctl device revoke ID\n"
	"\n"
	"Revokes a device: its client secret and every access and git token stop working at\n"
	"once. To bring it back it must onboard again with a fresh authorisation.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd device revoke 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

static const char deployments_help[] =
	"Usage: wfmctl device deployments ID [--limit N [--after CURSOR]]\n"
	"\n"
	"Lists the deployments of a device (see 'wfmctl deploy'), first deployed first:\n"
	"deployment ID, name, application, the latest state its agent reported (Pending,\n"
	"Installing, Installed, Failed, Removing, Removed; 'not reported' before the first\n"
	"report), when, and the error of a failed one; then each deployment's component\n"
	"states. Errors too long for the table follow it in full. The server answers in pages;\n"
	"wfmctl reads them all (or the first N with --limit, then says how to continue).\n"
	"\n"
	"Options:\n"
	"  --limit N             at most N deployments; then 'More: add --after CURSOR'\n"
	"  --after CURSOR        continue a --limit listing after CURSOR\n"
	"\n"
	"With --json: one document {\"items\": [...], \"next\": CURSOR or null}.\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd device deployments 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n"
	"  wfmctl --data-dir /var/lib/wfmd device deployments --limit 20 \\\n"
	"         6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n"
	"  wfmctl --data-dir /var/lib/wfmd --json device deployments \\\n"
	"         6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 | jq '.items[] | {deploymentId, state}'\n";

static const char *const device_states[] = { "pending", "active", "rejected", "revoked" };

/* "sha256:0123456789ab..." : enough to tell devices apart in a table. */
static const char *short_fingerprint(const char *fp, char *buf, size_t cap)
{
	if (fp == NULL || strlen(fp) <= 19)
		return fp;
	snprintf(buf, cap, "%.19s...", fp);
	return buf;
}

/* The device list's query filters: option name, query parameter, value. */
struct device_filter {
	const char *opt;
	const char *param;
	const char *value;
};

/* DEVICES_PATH with the filters that are set, newly allocated (NULL: out of memory). */
static char *filter_path(const struct device_filter *f, size_t n)
{
	char *path = strdup(DEVICES_PATH), *enc, *next;
	char sep = '?';

	for (size_t i = 0; path != NULL && i < n; i++) {
		if (f[i].value == NULL)
			continue;
		enc = wfmctl_path_join("", f[i].value);
		next = NULL;
		if (enc == NULL || asprintf(&next, "%s%c%s=%s", path, sep, f[i].param,
					    enc + 1) < 0)
			next = NULL;
		free(enc);
		free(path);
		path = next;
		sep = '&';
	}
	return path;
}

/* A device list row; buf holds the shortened fingerprint. */
static void device_row(json_t *d, const char **cells, char *buf)
{
	const char *last = wfmctl_json_str(d, "lastSeenAt");

	cells[0] = wfmctl_json_str(d, "id");
	cells[1] = wfmctl_json_str(d, "state");
	cells[2] = wfmctl_json_str(d, "vendor");
	cells[3] = wfmctl_json_str(d, "modelNumber");
	cells[4] = wfmctl_json_str(d, "serialNumber");
	cells[5] = short_fingerprint(wfmctl_json_str(d, "certificateFingerprint"), buf,
				     WFMCTL_ROW_BUF);
	cells[6] = wfmctl_json_str(d, "createdAt");
	cells[7] = last != NULL ? last : "never";
}

static int device_list(struct wfmctl *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "STATE", "VENDOR", "MODEL", "SERIAL",
					       "FINGERPRINT", "CREATED", "LAST SEEN" };
	struct device_filter f[] = {
		{ "state", "state", NULL }, { "vendor", "vendor", NULL },
		{ "model", "modelNumber", NULL }, { "serial-prefix", "serialPrefix", NULL },
		{ "id-prefix", "idPrefix", NULL }, { "seen-before", "lastSeenBefore", NULL },
		{ "seen-after", "lastSeenAfter", NULL },
		{ "deployment-state", "deploymentState", NULL },
	};
	const char *selector = NULL, *state;
	struct wfmctl_opt opts[] = {
		{ f[0].opt, &f[0].value, NULL }, { f[1].opt, &f[1].value, NULL },
		{ f[2].opt, &f[2].value, NULL }, { f[3].opt, &f[3].value, NULL },
		{ f[4].opt, &f[4].value, NULL }, { f[5].opt, &f[5].value, NULL },
		{ f[6].opt, &f[6].value, NULL }, { f[7].opt, &f[7].value, NULL },
		{ "selector", &selector, NULL }, { NULL, NULL, NULL } };
	struct wfmctl_list list = { 8, headers, NULL, device_row };
	char *path = NULL, empty[64] = "No device matches.";
	int npos, ret, known = 0, filtered = 0;
	size_t i;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_device_commands[0]);
	state = f[0].value;
	if (state != NULL) {
		for (i = 0; i < sizeof(device_states) / sizeof(device_states[0]); i++)
			known |= strcmp(state, device_states[i]) == 0;
		if (!known)
			return wfmctl_usage_error(ctx, "--state must be pending, active, rejected "
						  "or revoked");
	}
	for (i = 1; i < sizeof(f) / sizeof(f[0]); i++)
		filtered |= f[i].value != NULL;
	if (selector != NULL && filtered)
		return wfmctl_usage_error(ctx, "--selector goes with --state only");
	if (selector != NULL)
		return wfmctl_device_select(ctx, selector, state);
	path = filter_path(f, sizeof(f) / sizeof(f[0]));
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	filtered |= state != NULL;
	if (filtered && state != NULL && strchr(path, '&') == NULL)
		snprintf(empty, sizeof(empty), "No %s devices.", state);
	list.empty = !filtered ? "No devices yet." : empty;
	ret = wfmctl_list_table(ctx, path, &list);
	free(path);
	return ret;
}

/* "standalone device, cluster worker" */
static char *join_strings(json_t *arr)
{
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);
	json_t *v;

	if (f == NULL)
		return NULL;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v))
			fprintf(f, "%s%s", i > 0 ? ", " : "", json_string_value(v));
	}
	fclose(f);
	return out;
}

/* A capability member as text: strings as is, numbers with the default unit. */
static const char *quantity(json_t *obj, const char *key, const char *unit, char *buf,
			    size_t cap)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_number(v)) {
		snprintf(buf, cap, "%g %s", json_number_value(v), unit);
		return buf;
	}
	return NULL;
}

static void print_named_items(const char *label, json_t *arr)
{
	json_t *item;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return;
	printf("  %s:\n", label);
	json_array_foreach(arr, i, item) {
		const char *model = wfmctl_json_str(item, "modelNumber");

		printf("    - %s (%s%s%s)\n",
		       wfmctl_json_str(item, "name") ? wfmctl_json_str(item, "name") : "?",
		       wfmctl_json_str(item, "type") ? wfmctl_json_str(item, "type") : "?",
		       model != NULL ? ", " : "", model != NULL ? model : "");
	}
}

static void print_capabilities(json_t *caps, const char *updated_at)
{
	json_t *props, *res, *cpu;
	char buf[64], *roles = NULL;
	size_t i;

	if (updated_at != NULL)
		printf("\nCapabilities (reported %s):\n", updated_at);
	else
		printf("\nCapabilities:\n");
	if (caps == NULL || json_is_null(caps)) {
		printf("  not reported yet\n");
		return;
	}
	props = json_object_get(caps, "properties");
	if (!json_is_object(props)) {
		printf("  (no properties)\n");
		return;
	}
	res = json_object_get(props, "resources");
	wfmctl_kv(KV_WIDTH, "id", wfmctl_json_str(props, "id"));
	if (json_is_array(json_object_get(props, "roles")))
		roles = join_strings(json_object_get(props, "roles"));
	wfmctl_kv(KV_WIDTH, "roles", roles);
	free(roles);
	wfmctl_kv(KV_WIDTH, "memory", quantity(res, "memory", "GB", buf, sizeof(buf)));
	wfmctl_kv(KV_WIDTH, "storage", quantity(res, "storage", "GB", buf, sizeof(buf)));
	json_array_foreach(json_object_get(res, "cpus"), i, cpu) {
		const char *arch = wfmctl_json_str(cpu, "architecture");
		json_t *cores = json_object_get(cpu, "cores");
		char line[160], freq[64];
		const char *f = quantity(cpu, "frequency", "GHz", freq, sizeof(freq));

		if (arch == NULL)
			arch = wfmctl_json_str(cpu, "cpuArchitecture");
		snprintf(line, sizeof(line), "%s, %lld cores%s%s", arch != NULL ? arch : "?",
			 json_is_integer(cores) ? (long long)json_integer_value(cores) : 0LL,
			 f != NULL ? ", " : "", f != NULL ? f : "");
		snprintf(buf, sizeof(buf), "cpu %zu", i);
		wfmctl_kv(KV_WIDTH, buf, line);
	}
	print_named_items("peripherals", json_object_get(props, "peripherals"));
	print_named_items("peripherals", json_object_get(res, "peripherals"));
	print_named_items("interfaces", json_object_get(props, "interfaces"));
	print_named_items("interfaces", json_object_get(res, "interfaces"));
}

static const char *const shown_members[] = {
	"id", "state", "vendor", "modelNumber", "serialNumber", "certificateFingerprint",
	"createdAt", "lastSeenAt", "capabilities", "deployments", "certificate", "keyId",
	"firstAuthAt", "capabilitiesUpdatedAt",
};

static int device_show(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1], *path = NULL, *raw = NULL, buf[64];
	json_t *resp = NULL, *v;
	const char *key;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_device_commands[1]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which device? give its ID");
	path = wfmctl_path_join(DEVICES_PATH, pos[0]);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_call(ctx, "GET", path, NULL, &resp, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	if (!json_is_object(resp)) {
		ret = wfmctl_fail(ctx, "the server's answer is not a device");
		goto out;
	}
	printf("Device %s\n", wfmctl_json_str(resp, "id") ? wfmctl_json_str(resp, "id") : pos[0]);
	wfmctl_kv(KV_WIDTH, "state", wfmctl_json_str(resp, "state"));
	wfmctl_kv(KV_WIDTH, "vendor", wfmctl_json_str(resp, "vendor"));
	wfmctl_kv(KV_WIDTH, "model number", wfmctl_json_str(resp, "modelNumber"));
	wfmctl_kv(KV_WIDTH, "serial number", wfmctl_json_str(resp, "serialNumber"));
	wfmctl_kv(KV_WIDTH, "fingerprint", wfmctl_json_str(resp, "certificateFingerprint"));
	wfmctl_kv(KV_WIDTH, "created", wfmctl_json_str(resp, "createdAt"));
	wfmctl_kv(KV_WIDTH, "last seen", wfmctl_json_str(resp, "lastSeenAt") != NULL
						 ? wfmctl_json_str(resp, "lastSeenAt") : "never");
	wfmctl_kv(KV_WIDTH, "key id", wfmctl_json_str(resp, "keyId"));
	wfmctl_kv(KV_WIDTH, "first token", wfmctl_json_str(resp, "firstAuthAt") != NULL
						   ? wfmctl_json_str(resp, "firstAuthAt")
						   : "credentials not used yet");
	/* Whatever else the server tells about the device, as it names it. */
	json_object_foreach(resp, key, v) {
		int shown = 0;

		for (size_t i = 0; i < sizeof(shown_members) / sizeof(shown_members[0]); i++)
			shown |= strcmp(key, shown_members[i]) == 0;
		if (!shown && !json_is_object(v) && !json_is_array(v) && !json_is_null(v))
			wfmctl_kv(KV_WIDTH, key, wfmctl_json_text(resp, key, buf, sizeof(buf)));
	}
	print_capabilities(json_object_get(resp, "capabilities"),
			   wfmctl_json_str(resp, "capabilitiesUpdatedAt"));
	ret = wfmctl_print_device_deployments(ctx, pos[0], json_object_get(resp, "deployments"));
out:
	free(path);
	free(raw);
	json_decref(resp);
	return ret;
}

/* approve, reject and revoke: one call, then the device's new state when the server says. */
static int device_action(struct wfmctl *ctx, int argc, char **argv, int index,
			 const char *method, const char *suffix, const char *done)
{
	char *pos[1], *path = NULL, *full = NULL, *raw = NULL;
	json_t *resp = NULL;
	const char *state;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_device_commands[index]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which device? give its ID");
	path = wfmctl_path_join(DEVICES_PATH, pos[0]);
	if (path == NULL || asprintf(&full, "%s%s", path, suffix) < 0) {
		full = NULL;
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	ret = wfmctl_call(ctx, method, full, NULL, &resp, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	state = wfmctl_json_str(resp, "state");
	if (state != NULL)
		printf("%s device %s (state: %s).\n", done, pos[0], state);
	else
		printf("%s device %s.\n", done, pos[0]);
out:
	free(path);
	free(full);
	free(raw);
	json_decref(resp);
	return ret;
}

static int device_approve(struct wfmctl *ctx, int argc, char **argv)
{
	return device_action(ctx, argc, argv, 2, "POST", "/approve", "Approved");
}

static int device_reject(struct wfmctl *ctx, int argc, char **argv)
{
	return device_action(ctx, argc, argv, 3, "POST", "/reject", "Rejected");
}

static int device_revoke(struct wfmctl *ctx, int argc, char **argv)
{
	return device_action(ctx, argc, argv, 4, "DELETE", "", "Revoked");
}

const struct wfmctl_command wfmctl_device_commands[] = {
	{ "device", "list", device_list, "list devices and pending onboarding requests",
	  list_help },
	{ "device", "show", device_show, "show a device, its capabilities and deployments",
	  show_help },
	{ "device", "approve", device_approve, "approve a pending onboarding request",
	  approve_help },
	{ "device", "reject", device_reject, "reject a pending onboarding request", reject_help },
	{ "device", "revoke", device_revoke, "revoke a device and all its credentials",
	  revoke_help },
	{ "device", "deployments", wfmctl_device_deployments,
	  "list a device's deployments with their latest state", deployments_help },
	{ "device", "label", wfmctl_device_label, "show or change a device's labels",
	  wfmctl_device_label_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
