/* wfmctl operator add|list|revoke: POST/GET/DELETE /admin/v1/operators (admin role). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "margo/file.h"
#include "wfmctl.h"

#define OPERATORS_PATH "/admin/v1/operators"

static const char add_help[] =
	"Usage: wfmctl operator add NAME --role viewer|operator|admin [--out FILE]\n"
	"\n"
	"Creates a named operator account and issues its token. The token is shown only this\n"
	"once (the WFM keeps only its hash): give it to that person, who uses it with\n"
	"--token-file. Every change they make is recorded under NAME ('wfmctl audit').\n"
	"\n"
	"Roles (each includes the ones before it):\n"
	"  viewer     reads everything the admin API lists and shows, and /metrics\n"
	"  operator   also approves, rejects and revokes devices, deploys and undeploys,\n"
	"             sets labels and runs rollouts\n"
	"  admin      also manages operators, enrollment tokens and pre-registered\n"
	"             certificates\n"
	"\n"
	"Options:\n"
	"  --role R     the operator's role (required)\n"
	"  --out FILE   write the token to FILE (created with mode 0600, replaced atomically)\n"
	"               instead of printing it\n"
	"\n"
	"NAME is 1 to 32 of a-z 0-9 . _ - starting with a letter or digit; 'admin' is the\n"
	"bootstrap operator (the holder of DATA_DIR/admin.token). Names are never reused.\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd operator add alice --role operator --out alice.token\n"
	"  wfmctl --data-dir /var/lib/wfmd operator add grafana --role viewer\n";

static const char list_help[] =
	"Usage: wfmctl operator list [--limit N [--after CURSOR]]\n"
	"\n"
	"Lists operator accounts (never their tokens): name, role, who created them and when,\n"
	"and when they were revoked. The bootstrap operator 'admin' is not listed.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd operator list\n";

static const char revoke_help[] =
	"Usage: wfmctl operator revoke NAME\n"
	"\n"
	"Revokes an operator: their token stops working at once. Their audit entries stay.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd operator revoke alice\n";

/* The token to --out FILE (0600, atomic) or to stdout, with what it is. */
static int operator_token_out(struct wfmctl *ctx, json_t *resp, const char *out)
{
	const char *token = wfmctl_json_str(resp, "token");
	const char *name = wfmctl_json_str(resp, "name");
	struct margo_error err;

	if (token == NULL || name == NULL)
		return wfmctl_fail(ctx, "the server's answer holds no token");
	printf("Created operator %s (role %s).\n", name, wfmctl_json_str(resp, "role"));
	if (out != NULL) {
		margo_error_clear(&err);
		if (margo_file_write_atomic(out, token, strlen(token), 0600, &err) < 0)
			return wfmctl_fail(ctx, "operator %s was created but its token could not "
					   "be written to %s (%s): revoke it and add it again",
					   name, out, err.message);
		printf("Token written to %s (mode 0600); it cannot be retrieved again.\n", out);
		return 0;
	}
	printf("\nToken (shown only this once; it cannot be retrieved again):\n\n  %s\n\n", token);
	printf("Give it to %s over a safe channel; they use it with --token-file FILE.\n", name);
	return 0;
}

static int operator_add(struct wfmctl *ctx, int argc, char **argv)
{
	const char *role = NULL, *out = NULL;
	struct wfmctl_opt opts[] = { { "role", &role, NULL }, { "out", &out, NULL },
				     { NULL, NULL, NULL } };
	char *pos[1], *raw = NULL;
	json_t *body = NULL, *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_operator_commands[0]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "give the operator's NAME");
	if (role == NULL)
		return wfmctl_usage_error(ctx, "--role viewer|operator|admin is required");
	body = json_pack("{s:s,s:s}", "name", pos[0], "role", role);
	if (body == NULL)
		return wfmctl_fail(ctx, "cannot build the request (is NAME valid UTF-8?)");
	ret = wfmctl_call(ctx, "POST", OPERATORS_PATH, body, &resp, &raw);
	if (ret == 0 && ctx->json && out == NULL)
		wfmctl_print_raw(raw);
	else if (ret == 0)
		ret = operator_token_out(ctx, resp, out);
	if (raw != NULL) {
		OPENSSL_cleanse(raw, strlen(raw));
		free(raw);
	}
	json_decref(body);
	json_decref(resp);
	return ret;
}

static void operator_row(json_t *o, const char **cells, char *buf)
{
	(void)buf;
	cells[0] = wfmctl_json_str(o, "name");
	cells[1] = wfmctl_json_str(o, "role");
	cells[2] = wfmctl_json_str(o, "createdBy");
	cells[3] = wfmctl_json_str(o, "createdAt");
	cells[4] = wfmctl_json_str(o, "revokedAt");
}

static int operator_list(struct wfmctl *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "NAME", "ROLE", "CREATED BY", "CREATED",
					       "REVOKED" };
	static const struct wfmctl_list list = {
		5, headers, "No operators yet (only the bootstrap admin).", operator_row
	};
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_operator_commands[1]);
	return wfmctl_list_table(ctx, OPERATORS_PATH, &list);
}

static int operator_revoke(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1], *path = NULL;
	json_t *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_operator_commands[2]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which operator? give the NAME");
	path = wfmctl_path_join(OPERATORS_PATH, pos[0]);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_call(ctx, "DELETE", path, NULL, &resp, NULL);
	if (ret == 0)
		printf("Revoked operator %s.\n", pos[0]);
	free(path);
	json_decref(resp);
	return ret;
}

const struct wfmctl_command wfmctl_operator_commands[] = {
	{ "operator", "add", operator_add, "add an operator account and issue its token",
	  add_help },
	{ "operator", "list", operator_list, "list operator accounts", list_help },
	{ "operator", "revoke", operator_revoke, "revoke an operator's token", revoke_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
