/* wfmctl rollout create|list|status|pause|resume|abort: /admin/v1/rollouts */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "margo/appdeploy.h"
#include "margo/validate.h"
#include "wfmctl.h"

#define ROLLOUTS_PATH "/admin/v1/rollouts"
#define KV_WIDTH 18
#define BAR_WIDTH 30
#define WATCH_INTERVAL_S 2

static const char create_help[] =
	"Usage: wfmctl rollout create --selector S FILE.yaml [options]\n"
	"\n"
	"Deploys one ApplicationDeployment to every active device whose labels match S, in\n"
	"waves: first --canary devices, then batches. A wave advances when at least\n"
	"--success-threshold of its devices report Installed within --wave-timeout; otherwise\n"
	"the rollout pauses, names the failing devices and leaves the later waves untouched.\n"
	"The set of devices is fixed when the rollout is created (devices that join or change\n"
	"labels later are not added). A newer rollout of the same deployment ID supersedes an\n"
	"older one that is still going. FILE '-' reads standard input.\n"
	"\n"
	"Options:\n"
	"  --selector S              which devices ('wfmctl device label --help' explains the\n"
	"                            grammar; 'wfmctl device list --selector S' previews it)\n"
	"  --deployment-id ID        default: the file's metadata.annotations.id\n"
	"  --canary N                devices in the first wave (default 0: no canary wave)\n"
	"  --batch N|P%              devices per later wave, a count or a percentage of all\n"
	"                            matched devices (default 100%: one wave)\n"
	"  --success-threshold P%    share of a wave that must report Installed (default 100%)\n"
	"  --wave-timeout DUR        time a wave has to succeed, e.g. 30m (default 1h)\n"
	"  --auto-advance            start the next wave as soon as one succeeds (default)\n"
	"  --manual                  wait for 'wfmctl rollout resume ID' after each wave\n"
	"\n"
	"Examples:\n"
	"  wfmctl device list --selector 'plant=3,device.margo/arch=arm64'\n"
	"  wfmctl rollout create --selector 'plant=3,device.margo/arch=arm64' app.yaml \\\n"
	"         --canary 1 --batch 10% --success-threshold 95% --wave-timeout 30m\n"
	"  wfmctl rollout status ID --watch\n";

static const char list_help[] =
	"Usage: wfmctl rollout list [--state S]\n"
	"\n"
	"Lists rollouts, newest first: ID, deployment, state (running, waiting, paused,\n"
	"rolling-back, completed, aborted, superseded), current wave, devices.\n";

static const char status_help[] =
	"Usage: wfmctl rollout status ID [--watch]\n"
	"\n"
	"Shows a rollout: its settings, state and reason (a paused rollout names the devices\n"
	"that failed or did not report), then per wave the devices deployed, Installed, Failed\n"
	"and not yet reported, with a progress bar of the devices installed. --watch redraws\n"
	"every 2 s until the rollout completes, pauses, waits or ends.\n";

static const char pause_help[] =
	"Usage: wfmctl rollout pause ID\n"
	"\n"
	"Stops a running rollout where it is: no further commits; devices already deployed keep\n"
	"the new version. 'wfmctl rollout resume ID' goes on.\n";

static const char resume_help[] =
	"Usage: wfmctl rollout resume ID\n"
	"\n"
	"Goes on with a paused rollout (its current wave gets a fresh --wave-timeout), or, for a\n"
	"rollout waiting after a successful wave (--manual), starts the next wave.\n";

static const char abort_help[] =
	"Usage: wfmctl rollout abort ID [--rollback]\n"
	"\n"
	"Ends a rollout. Without --rollback, devices keep what they have. With --rollback, each\n"
	"device the rollout deployed gets its previous version of the deployment back, or loses\n"
	"the deployment where it had none before.\n";

/* "10%" or "10" (percent) or "N" (count, when counts allowed) into the JSON value. */
static json_t *batch_value(const char *s)
{
	long v;
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '%')
		return json_string(s);
	if (wfmctl_long_parse(s, 1, 1000000, &v) < 0)
		return NULL;
	return json_integer(v);
}

static int create_body(struct wfmctl *ctx, const char *file, const char *selector,
		       const char *id, const char **opt, int manual, json_t **out)
{
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;
	char *yaml = NULL;
	size_t len = 0;
	long canary = 0, pct;
	int64_t timeout = 3600;
	json_t *body = NULL, *batch = NULL;
	int rc, ret = 0;

	if (opt[0] != NULL && wfmctl_long_parse(opt[0], 0, 1000000, &canary) < 0)
		return wfmctl_usage_error(ctx, "--canary wants a number of devices");
	if (opt[1] != NULL && (batch = batch_value(opt[1])) == NULL)
		return wfmctl_usage_error(ctx, "--batch wants a number of devices or a percentage "
					  "such as 10%%");
	if (opt[2] != NULL && (wfmctl_long_parse(opt[2], 1, 100, &pct) < 0 &&
			       (sscanf(opt[2], "%ld%%", &pct) != 1 || pct < 1 || pct > 100))) {
		json_decref(batch);
		return wfmctl_usage_error(ctx, "--success-threshold wants a percentage, e.g. 95%%");
	}
	if (opt[3] != NULL && (wfmctl_duration_parse(opt[3], &timeout) < 0 || timeout < 1)) {
		json_decref(batch);
		return wfmctl_usage_error(ctx, "--wave-timeout wants a duration such as 30m or 2h");
	}
	if (wfmctl_read_document(file, &yaml, &len) != 0) {
		json_decref(batch);
		return wfmctl_fail(ctx, "cannot read %s: %s", file, strerror(errno));
	}
	rc = margo_appdeploy_parse(yaml, len, &d, &v);
	if (rc == MARGO_EINVAL) {
		for (size_t i = 0; i < v.count; i++)
			fprintf(stderr, "%s: %s: %s\n", file, v.errors[i].field, v.errors[i].message);
		ret = WFMCTL_EXIT_FAIL;
		goto out;
	}
	if (rc < 0) {
		ret = wfmctl_fail(ctx, "%s: %s", file, margo_strerror(rc));
		goto out;
	}
	body = json_pack("{s:s,s:s#,s:I,s:I,s:b}", "selector", selector, "deployment", yaml,
			 (int)len, "canary", (json_int_t)canary, "waveTimeoutSeconds",
			 (json_int_t)timeout, "autoAdvance", !manual);
	if (body == NULL ||
	    (id != NULL && json_object_set_new(body, "deploymentId", json_string(id)) < 0) ||
	    (batch != NULL && json_object_set(body, "batch", batch) < 0) ||
	    (opt[2] != NULL && json_object_set_new(body, "successThreshold",
						   json_integer(pct)) < 0)) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	*out = body;
	body = NULL;
out:
	json_decref(body);
	json_decref(batch);
	margo_appdeploy_free(d);
	free(yaml);
	return ret;
}

static int rollout_create(struct wfmctl *ctx, int argc, char **argv)
{
	const char *selector = NULL, *id = NULL, *opt[4] = { NULL, NULL, NULL, NULL };
	int manual = 0, autoadv = 0, npos, ret;
	struct wfmctl_opt opts[] = {
		{ "selector", &selector, NULL }, { "deployment-id", &id, NULL },
		{ "canary", &opt[0], NULL }, { "batch", &opt[1], NULL },
		{ "success-threshold", &opt[2], NULL }, { "wave-timeout", &opt[3], NULL },
		{ "manual", NULL, &manual }, { "auto-advance", NULL, &autoadv },
		{ NULL, NULL, NULL },
	};
	struct margo_http_response resp = { 0 };
	char *pos[1], *text = NULL;
	json_t *body = NULL, *answer = NULL;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_rollout_commands[0]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "give the deployment file");
	if (selector == NULL)
		return wfmctl_usage_error(ctx, "--selector is required (which devices?)");
	if (manual && autoadv)
		return wfmctl_usage_error(ctx, "--manual and --auto-advance exclude each other");
	if (id != NULL && !margo_appdeploy_id_valid(id))
		return wfmctl_usage_error(ctx, "--deployment-id must be 1-128 characters of "
					  "A-Z a-z 0-9 . _ - not starting with '.'");
	if ((ret = create_body(ctx, pos[0], selector, id, opt, manual, &body)) != 0)
		return ret;
	text = json_dumps(body, JSON_COMPACT);
	if (text == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	ret = wfmctl_request(ctx, "POST", ROLLOUTS_PATH, "application/json", text, strlen(text),
			     &resp);
	if (ret != 0)
		goto out;
	if (resp.status != 201) {
		ret = wfmctl_print_refusal(ctx, pos[0], &resp);
		goto out;
	}
	if (ctx->json) {
		wfmctl_print_raw(resp.body);
		goto out;
	}
	answer = json_loadb(resp.body != NULL ? resp.body : "", resp.body_len, 0, NULL);
	printf("Rollout %s created: %s to %lld devices in %lld waves.\n",
	       wfmctl_json_str(answer, "id"), wfmctl_json_str(answer, "deploymentId"),
	       (long long)json_integer_value(json_object_get(answer, "devices")),
	       (long long)json_integer_value(json_object_get(answer, "waves")));
	printf("Follow it: wfmctl rollout status %s --watch\n", wfmctl_json_str(answer, "id"));
out:
	json_decref(answer);
	json_decref(body);
	free(text);
	margo_http_response_free(&resp);
	return ret;
}

static long jint(json_t *o, const char *k)
{
	return (long)json_integer_value(json_object_get(o, k));
}

static void rollout_row(json_t *r, const char **cells, char *buf)
{
	char *wave = buf, *devices = buf + WFMCTL_ROW_BUF / 2;

	snprintf(wave, WFMCTL_ROW_BUF / 2, "%ld/%ld", jint(r, "currentWave") + 1, jint(r, "waves"));
	snprintf(devices, WFMCTL_ROW_BUF / 2, "%ld", jint(r, "devices"));
	cells[0] = wfmctl_json_str(r, "id");
	cells[1] = wfmctl_json_str(r, "deploymentId");
	cells[2] = wfmctl_json_str(r, "state");
	cells[3] = wave;
	cells[4] = devices;
	cells[5] = wfmctl_json_str(r, "createdAt");
}

static int rollout_list(struct wfmctl *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "DEPLOYMENT", "STATE", "WAVE", "DEVICES",
					       "CREATED" };
	static const struct wfmctl_list list = { 6, headers, "No rollouts.", rollout_row };
	const char *state = NULL;
	struct wfmctl_opt opts[] = { { "state", &state, NULL }, { NULL, NULL, NULL } };
	char *path = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_rollout_commands[1]);
	if (state != NULL && asprintf(&path, "%s?state=%s", ROLLOUTS_PATH, state) < 0)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_list_table(ctx, path != NULL ? path : ROLLOUTS_PATH, &list);
	free(path);
	return ret;
}

static void progress_bar(long done, long total)
{
	int fill = total > 0 ? (int)(done * BAR_WIDTH / total) : 0;

	printf("  [");
	for (int i = 0; i < BAR_WIDTH; i++)
		putchar(i < fill ? '#' : '-');
	printf("] %ld/%ld installed (%ld%%)\n", done, total, total > 0 ? done * 100 / total : 0);
}

static void print_status(json_t *r)
{
	static const char *const headers[] = { "WAVE", "DEVICES", "WAITING", "DEPLOYED",
					       "INSTALLED", "FAILED", "OTHER", "NO REPORT",
					       "ROLLED BACK", "SKIPPED" };
	static const char *const keys[] = { "devices", "waiting", "deployed", "installed",
					    "failed", "reportedOther", "notReported",
					    "rolledBack", "skipped" };
	struct wfmctl_table *table = wfmctl_table_new(10, headers);
	json_t *w;
	long installed = 0, total = jint(r, "devices");
	char buf[64], cells[10][40];
	size_t i;

	printf("Rollout %s\n", wfmctl_json_str(r, "id"));
	wfmctl_kv(KV_WIDTH, "deployment", wfmctl_json_str(r, "deploymentId"));
	wfmctl_kv(KV_WIDTH, "selector", wfmctl_json_str(r, "selector"));
	wfmctl_kv(KV_WIDTH, "state", wfmctl_json_str(r, "state"));
	if (wfmctl_json_str(r, "reason") != NULL)
		wfmctl_kv(KV_WIDTH, "reason", wfmctl_json_str(r, "reason"));
	snprintf(buf, sizeof(buf), "%ld of %ld", jint(r, "currentWave") + 1, jint(r, "waves"));
	wfmctl_kv(KV_WIDTH, "wave", buf);
	snprintf(buf, sizeof(buf), "%ld%% within %lds", jint(r, "successThreshold"),
		 jint(r, "waveTimeoutSeconds"));
	wfmctl_kv(KV_WIDTH, "success threshold", buf);
	wfmctl_kv(KV_WIDTH, "advance", json_is_true(json_object_get(r, "autoAdvance")) ?
		  "automatic" : "manual (rollout resume)");
	wfmctl_kv(KV_WIDTH, "created", wfmctl_json_str(r, "createdAt"));
	json_array_foreach(json_object_get(r, "waveStatus"), i, w) {
		const char *row[10];

		snprintf(cells[0], sizeof(cells[0]), "%ld%s", jint(w, "wave") + 1,
			 jint(w, "wave") == 0 && jint(r, "canary") > 0 ? " (canary)" : "");
		row[0] = cells[0];
		for (size_t k = 0; k < 9; k++) {
			snprintf(cells[k + 1], sizeof(cells[k + 1]), "%ld", jint(w, keys[k]));
			row[k + 1] = cells[k + 1];
		}
		installed += jint(w, "installed");
		if (table != NULL)
			wfmctl_table_add(table, row);
	}
	if (table != NULL) {
		putchar('\n');
		wfmctl_table_print(table);
	}
	progress_bar(installed, total);
	wfmctl_table_free(table);
}

static int rollout_status(struct wfmctl *ctx, int argc, char **argv)
{
	int watch = 0, npos, ret;
	struct wfmctl_opt opts[] = { { "watch", NULL, &watch }, { NULL, NULL, NULL } };
	char *pos[1], *path = NULL, *raw = NULL;
	json_t *r = NULL;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_rollout_commands[2]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which rollout? give its ID");
	path = wfmctl_path_join(ROLLOUTS_PATH, pos[0]);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	for (;;) {
		const char *state;

		json_decref(r);
		r = NULL;
		free(raw);
		raw = NULL;
		if ((ret = wfmctl_call(ctx, "GET", path, NULL, &r, &raw)) != 0)
			break;
		if (ctx->json) {
			wfmctl_print_raw(raw);
			break;
		}
		if (watch && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		print_status(r);
		state = wfmctl_json_str(r, "state");
		if (!watch || state == NULL || strcmp(state, "running") != 0)
			break;
		fflush(stdout);
		sleep(WATCH_INTERVAL_S);
		if (!isatty(STDOUT_FILENO))
			putchar('\n');
	}
	json_decref(r);
	free(raw);
	free(path);
	return ret;
}

static int rollout_act(struct wfmctl *ctx, int argc, char **argv, int index, const char *verb,
		       const char *done)
{
	int rollback = 0, npos, ret;
	struct wfmctl_opt opts[] = { { "rollback", NULL, &rollback }, { NULL, NULL, NULL } };
	char *pos[1], *path = NULL, *full = NULL, *raw = NULL;
	json_t *r = NULL, *body = NULL;

	ret = wfmctl_parse_args(ctx, argc, argv, strcmp(verb, "abort") == 0 ? opts : NULL, pos, 1,
				&npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_rollout_commands[index]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which rollout? give its ID");
	path = wfmctl_path_join(ROLLOUTS_PATH, pos[0]);
	if (path == NULL || asprintf(&full, "%s/%s", path, verb) < 0) {
		full = NULL;
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	if (rollback)
		body = json_pack("{s:b}", "rollback", 1);
	ret = wfmctl_call(ctx, "POST", full, body, &r, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	printf("%s rollout %s (state: %s).\n", done, pos[0],
	       wfmctl_json_str(r, "state") != NULL ? wfmctl_json_str(r, "state") : "?");
out:
	json_decref(r);
	json_decref(body);
	free(raw);
	free(path);
	free(full);
	return ret;
}

static int rollout_pause(struct wfmctl *ctx, int argc, char **argv)
{
	return rollout_act(ctx, argc, argv, 3, "pause", "Paused");
}

static int rollout_resume(struct wfmctl *ctx, int argc, char **argv)
{
	return rollout_act(ctx, argc, argv, 4, "resume", "Resumed");
}

static int rollout_abort(struct wfmctl *ctx, int argc, char **argv)
{
	return rollout_act(ctx, argc, argv, 5, "abort", "Aborted");
}

const struct wfmctl_command wfmctl_rollout_commands[] = {
	{ "rollout", "create", rollout_create, "deploy to the devices a selector matches, in waves",
	  create_help },
	{ "rollout", "list", rollout_list, "list rollouts", list_help },
	{ "rollout", "status", rollout_status, "show a rollout's waves and progress", status_help },
	{ "rollout", "pause", rollout_pause, "pause a rollout", pause_help },
	{ "rollout", "resume", rollout_resume, "resume a paused or waiting rollout", resume_help },
	{ "rollout", "abort", rollout_abort, "end a rollout, optionally rolling back", abort_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
