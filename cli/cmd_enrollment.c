/* wfmctl enrollment create|list|revoke: POST/GET/DELETE /admin/v1/enrollment-tokens */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "margo/timeutil.h"
#include "wfmctl.h"

#define ENROLLMENT_PATH "/admin/v1/enrollment-tokens"
#define MAX_USES_LIMIT 1000000L
#define ONBOARD_TOKEN_FILE "/root/enrollment.token"

static const char create_help[] =
	"Usage: wfmctl enrollment create [--ttl DURATION] [--max-uses N] [--auto-approve]\n"
	"                                [--description TEXT] [--qr]\n"
	"\n"
	"Issues an enrollment token. A device that presents it when onboarding is accepted\n"
	"at once (--auto-approve) or queued for your approval ('wfmctl device approve'). The\n"
	"token is printed once and cannot be shown again: the WFM keeps only its hash.\n"
	"It is also the only secret a device needs: it authenticates this WFM's CA to the\n"
	"agent, so the printed onboarding line has no pin (the token goes in a file on the\n"
	"device, never on a command line).\n"
	"\n"
	"Options:\n"
	"  --ttl DURATION       lifetime: 3600, 90s, 15m, 24h, 7d or sums like 1h30m\n"
	"                       (default: 24h)\n"
	"  --max-uses N         how many devices may onboard with it (default: 1)\n"
	"  --auto-approve       devices onboarding with it are approved at once; without it\n"
	"                       each waits for 'wfmctl device approve'\n"
	"  --description TEXT   a note for 'enrollment list', e.g. the site or batch\n"
	"  --qr                 also print the onboarding line as a QR code (for a phone)\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd enrollment create --ttl 24h --max-uses 20 \\\n"
	"         --auto-approve --description 'line 3 gateways'\n"
	"  wfmctl --data-dir /var/lib/wfmd --json enrollment create --ttl 15m   # for scripts\n";

static const char list_help[] =
	"Usage: wfmctl enrollment list\n"
	"\n"
	"Lists enrollment tokens (never the token values): id, description, expiry, uses and\n"
	"state (active, expired, used up, revoked).\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd enrollment list\n"
	"  wfmctl --data-dir /var/lib/wfmd --json enrollment list\n";

static const char revoke_help[] =
	"Usage: wfmctl enrollment revoke ID\n"
	"\n"
	"Revokes an enrollment token at once: devices can no longer onboard with it. Devices\n"
	"that already onboarded keep their credentials (see 'wfmctl device revoke').\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd enrollment revoke 3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c\n";

/* active / expired / used up / revoked, from the server's state or the members. */
static const char *token_state(json_t *t)
{
	const char *state = wfmctl_json_str(t, "state");
	const char *expires = wfmctl_json_str(t, "expiresAt");
	json_t *max = json_object_get(t, "maxUses");
	json_t *uses = json_object_get(t, "uses");
	int64_t when;

	if (state != NULL)
		return state;
	if (json_is_true(json_object_get(t, "revoked")))
		return "revoked";
	if (expires != NULL && margo_time_parse(expires, &when) == 0 && when <= margo_time_now())
		return "expired";
	if (json_is_integer(max) && json_integer_value(max) > 0 && json_is_integer(uses) &&
	    json_integer_value(uses) >= json_integer_value(max))
		return "used up";
	return "active";
}

static void uses_text(json_t *t, char *buf, size_t cap)
{
	json_t *max = json_object_get(t, "maxUses");
	json_t *uses = json_object_get(t, "uses");
	long long u = json_is_integer(uses) ? json_integer_value(uses) : 0;

	if (json_is_integer(max) && json_integer_value(max) > 0)
		snprintf(buf, cap, "%lld/%lld", u, (long long)json_integer_value(max));
	else
		snprintf(buf, cap, "%lld/unlimited", u);
}

/* What the device's operator runs: the token alone authenticates this WFM (its CA MAC), so
 * the line needs no pin; the token goes into a file, never into argv. */
static void print_onboarding_line(const struct wfmctl *ctx, int qr)
{
	char *line = NULL;

	if (ctx->base_url == NULL ||
	    asprintf(&line, "margo-agent onboard --url %s --enrollment-token-file %s",
		     ctx->base_url, ONBOARD_TOKEN_FILE) < 0)
		return;
	printf("\nOn the device, put the token alone in %s (mode 0600), then run:\n\n  %s\n",
	       ONBOARD_TOKEN_FILE, line);
	if (qr) {
		printf("\n");
		if (wfmctl_qr_print(stdout, line) != 0)
			fprintf(stderr, "wfmctl: cannot encode the QR code\n");
	}
	free(line);
}

static int enrollment_create(struct wfmctl *ctx, int argc, char **argv)
{
	const char *ttl = NULL, *max_uses = NULL, *description = NULL;
	int auto_approve = 0, qr = 0, npos, ret;
	struct wfmctl_opt opts[] = {
		{ "ttl", &ttl, NULL },
		{ "max-uses", &max_uses, NULL },
		{ "auto-approve", NULL, &auto_approve },
		{ "description", &description, NULL },
		{ "qr", NULL, &qr },
		{ NULL, NULL, NULL },
	};
	json_t *body = NULL, *resp = NULL;
	char *raw = NULL, buf[64];
	const char *token;
	int64_t ttl_s = 0;
	long max = 0;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_enrollment_commands[0]);
	if (ttl != NULL && wfmctl_duration_parse(ttl, &ttl_s) != 0)
		return wfmctl_usage_error(ctx, "--ttl '%s' is not a duration (e.g. 3600, 90s, 15m, "
					  "24h, 7d)", ttl);
	if (max_uses != NULL && wfmctl_long_parse(max_uses, 1, MAX_USES_LIMIT, &max) != 0)
		return wfmctl_usage_error(ctx, "--max-uses '%s' is not a number from 1 to %ld",
					  max_uses, MAX_USES_LIMIT);
	body = json_pack("{s:b}", "autoApprove", auto_approve);
	if (body == NULL ||
	    (ttl != NULL && json_object_set_new(body, "ttlSeconds", json_integer(ttl_s)) != 0) ||
	    (max_uses != NULL && json_object_set_new(body, "maxUses", json_integer(max)) != 0) ||
	    (description != NULL &&
	     json_object_set_new(body, "description", json_string(description)) != 0)) {
		ret = wfmctl_fail(ctx, "cannot build the request (is --description valid UTF-8?)");
		goto out;
	}
	ret = wfmctl_call(ctx, "POST", ENROLLMENT_PATH, body, &resp, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	token = wfmctl_json_str(resp, "token");
	if (token == NULL) {
		ret = wfmctl_fail(ctx, "the server's answer holds no token");
		goto out;
	}
	printf("Created enrollment token %s\n", wfmctl_json_str(resp, "id") != NULL
						     ? wfmctl_json_str(resp, "id") : "");
	wfmctl_kv(12, "expires", wfmctl_json_str(resp, "expiresAt"));
	uses_text(resp, buf, sizeof(buf));
	wfmctl_kv(12, "uses", buf);
	wfmctl_kv(12, "auto-approve",
		  json_is_true(json_object_get(resp, "autoApprove")) ? "yes" : "no");
	if (wfmctl_json_str(resp, "description") != NULL)
		wfmctl_kv(12, "description", wfmctl_json_str(resp, "description"));
	printf("\nToken (shown only this once; it cannot be retrieved again):\n\n  %s\n\n", token);
	printf("Give it to the device's operator over a safe channel. Revoke it with\n"
	       "'wfmctl enrollment revoke %s'.\n",
	       wfmctl_json_str(resp, "id") != NULL ? wfmctl_json_str(resp, "id") : "ID");
	print_onboarding_line(ctx, qr);
out:
	if (raw != NULL) {
		OPENSSL_cleanse(raw, strlen(raw));
		free(raw);
	}
	json_decref(body);
	json_decref(resp);
	return ret;
}

static void enrollment_row(json_t *t, const char **cells, char *buf)
{
	uses_text(t, buf, WFMCTL_ROW_BUF);
	cells[0] = wfmctl_json_str(t, "id");
	cells[1] = wfmctl_json_str(t, "description");
	cells[2] = wfmctl_json_str(t, "createdAt");
	cells[3] = wfmctl_json_str(t, "expiresAt");
	cells[4] = buf;
	cells[5] = json_is_true(json_object_get(t, "autoApprove")) ? "yes" : "no";
	cells[6] = token_state(t);
}

static int enrollment_list(struct wfmctl *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "DESCRIPTION", "CREATED", "EXPIRES",
					       "USES", "AUTO-APPROVE", "STATE" };
	static const struct wfmctl_list list = {
		7, headers, "No enrollment tokens. Create one with 'wfmctl enrollment create'.",
		enrollment_row
	};
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_enrollment_commands[1]);
	return wfmctl_list_table(ctx, ENROLLMENT_PATH, &list);
}

static int enrollment_revoke(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1], *path = NULL, *raw = NULL;
	json_t *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_enrollment_commands[2]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which token? give its ID");
	path = wfmctl_path_join(ENROLLMENT_PATH, pos[0]);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_call(ctx, "DELETE", path, NULL, &resp, &raw);
	if (ret == 0) {
		if (ctx->json)
			wfmctl_print_raw(raw);
		else
			printf("Revoked enrollment token %s.\n", pos[0]);
	}
	free(path);
	free(raw);
	json_decref(resp);
	return ret;
}

const struct wfmctl_command wfmctl_enrollment_commands[] = {
	{ "enrollment", "create", enrollment_create, "issue an enrollment token (shown once)",
	  create_help },
	{ "enrollment", "list", enrollment_list, "list enrollment tokens", list_help },
	{ "enrollment", "revoke", enrollment_revoke, "revoke an enrollment token", revoke_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
