/* wfmctl audit: GET /admin/v1/audit, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/timeutil.h"
#include "wfmctl.h"

#define AUDIT_PATH "/admin/v1/audit"

static const char audit_help[] =
	"Usage: wfmctl audit [--operator NAME] [--device ID] [--since T] [--until T]\n"
	"                    [--limit N [--after CURSOR]]\n"
	"\n"
	"Shows the audit log, newest first: every change made through the admin API (approve,\n"
	"reject, revoke, deploy, undeploy, labels, rollouts, enrollment tokens, certificates,\n"
	"operators) and every change refused for lack of role: when, by which operator, from\n"
	"which address, the request (method and path; ids only, never a token or a body) and\n"
	"its status.\n"
	"\n"
	"Options:\n"
	"  --operator NAME   only this operator's calls ('admin': the bootstrap token)\n"
	"  --device ID       only calls about this device\n"
	"  --since T         from T on: RFC 3339 (2026-12-04T06:00:00Z) or a duration ago\n"
	"                    (90s, 15m, 24h, 7d)\n"
	"  --until T         before T (same forms)\n"
	"  --limit N         at most N entries; then 'More: add --after CURSOR'\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd audit --since 24h\n"
	"  wfmctl --data-dir /var/lib/wfmd audit --operator alice --limit 20\n"
	"  wfmctl --data-dir /var/lib/wfmd --json audit --device 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

/* T as RFC 3339 for the query: given so, or now minus a duration. 0 or -1. */
static int audit_time(const char *in, char out[MARGO_TIME_LEN])
{
	int64_t t, d;

	if (margo_time_parse(in, &t) == 0) {
		margo_time_format(t, out);
		return 0;
	}
	if (wfmctl_duration_parse(in, &d) != 0)
		return -1;
	margo_time_format(margo_time_now() - d, out);
	return 0;
}

/* AUDIT_PATH with the filters that are set, newly allocated (NULL: out of memory). */
static char *audit_path(const char *op, const char *dev, const char *since, const char *until)
{
	const char *names[4] = { "operator", "deviceId", "since", "until" };
	const char *values[4] = { op, dev, since, until };
	char *path = strdup(AUDIT_PATH), *enc, *next;

	for (int i = 0; path != NULL && i < 4; i++) {
		if (values[i] == NULL)
			continue;
		enc = wfmctl_path_join("", values[i]);
		if (enc == NULL || asprintf(&next, "%s%c%s=%s", path, strchr(path, '?') ? '&' : '?',
					    names[i], enc + 1) < 0)
			next = NULL;
		free(enc);
		free(path);
		path = next;
	}
	return path;
}

static int audit_print(struct wfmctl *ctx, json_t *items, json_t *resp)
{
	static const char *const headers[] = { "AT", "OPERATOR", "FROM", "METHOD", "PATH",
					       "STATUS" };
	struct wfmctl_table *table = wfmctl_table_new(6, headers);
	char status[16];
	json_t *e;
	size_t i;

	if (table == NULL)
		return wfmctl_fail(ctx, "out of memory");
	json_array_foreach(items, i, e) {
		const char *row[6] = { wfmctl_json_str(e, "at"), wfmctl_json_str(e, "operator"),
				       wfmctl_json_str(e, "clientAddress"),
				       wfmctl_json_str(e, "method"), wfmctl_json_str(e, "path"),
				       wfmctl_json_text(e, "status", status, sizeof(status)) };

		if (wfmctl_table_add(table, row) != 0) {
			wfmctl_table_free(table);
			return wfmctl_fail(ctx, "out of memory");
		}
	}
	wfmctl_table_print(table);
	wfmctl_table_free(table);
	wfmctl_list_more(ctx, resp);
	return 0;
}

static int audit_run(struct wfmctl *ctx, int argc, char **argv)
{
	const char *op = NULL, *dev = NULL, *since = NULL, *until = NULL;
	struct wfmctl_opt opts[] = { { "operator", &op, NULL }, { "device", &dev, NULL },
				     { "since", &since, NULL }, { "until", &until, NULL },
				     { NULL, NULL, NULL } };
	char since_t[MARGO_TIME_LEN], until_t[MARGO_TIME_LEN], *path;
	json_t *resp = NULL, *items;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_audit_commands[0]);
	if (since != NULL && audit_time(since, since_t) < 0)
		return wfmctl_usage_error(ctx, "--since wants an RFC 3339 time or a duration "
					  "(24h), got '%s'", since);
	if (until != NULL && audit_time(until, until_t) < 0)
		return wfmctl_usage_error(ctx, "--until wants an RFC 3339 time or a duration "
					  "(24h), got '%s'", until);
	path = audit_path(op, dev, since != NULL ? since_t : NULL, until != NULL ? until_t : NULL);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_get_items(ctx, path, &resp, &items);
	if (ret == 0 && items != NULL) {
		if (json_array_size(items) == 0)
			printf("No audit entries match.\n");
		else
			ret = audit_print(ctx, items, resp);
	}
	free(path);
	json_decref(resp);
	return ret;
}

const struct wfmctl_command wfmctl_audit_commands[] = {
	{ "audit", "", audit_run, "show the audit log of admin changes", audit_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
