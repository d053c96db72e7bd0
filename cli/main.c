#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfmctl.h"

static const char main_help[] =
	"wfmctl - operate a margo-fleet WFM (wfmd) through its admin API\n"
	"\n"
	"Usage: wfmctl [CONNECTION] [--json] COMMAND [ARGS...]\n"
	"\n"
	"Connection (options win over the WFMCTL_* environment variables):\n"
	"  --data-dir DIR       wfmd's data directory on this machine; reads DIR/public-url,\n"
	"                       DIR/ca.crt and DIR/admin.token            (WFMCTL_DATA_DIR)\n"
	"  --url URL            base URL of a wfmd, e.g. https://wfm.example:8443  (WFMCTL_URL)\n"
	"  --ca-file FILE       the WFM root CA (PEM); the only CA trusted   (WFMCTL_CA_FILE)\n"
	"  --token-file FILE    file holding your operator token (wfmop_...), or the\n"
	"                       bootstrap admin token (wfmadm_...)         (WFMCTL_TOKEN_FILE)\n"
	"                       The token is never taken from the command line.\n"
	"\n"
	"Output:\n"
	"  --json               print the server's JSON instead of tables\n"
	"  --help, -h           help (also after any command)\n"
	"\n"
	"Lists (every 'list' command, 'device deployments' and 'audit'):\n"
	"  --limit N            at most N items (default: all, read page after page)\n"
	"  --after CURSOR       continue after the cursor a --limit listing printed\n"
	"  With --json a list is one document {\"items\": [...], \"next\": CURSOR or null}.\n"
	"  --version            print the version\n"
	"\n"
	"Commands:\n"
	"%s"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd enrollment create --ttl 24h --max-uses 10\n"
	"  wfmctl --data-dir /var/lib/wfmd device list --state pending\n"
	"  wfmctl --data-dir /var/lib/wfmd device approve 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n"
	"  wfmctl --data-dir /var/lib/wfmd deploy 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 app.yaml\n"
	"  wfmctl --url https://wfm.example:8443 --ca-file ca.crt --token-file admin.token \\\n"
	"         --json device list\n"
	"\n"
	"Run 'wfmctl COMMAND --help' (e.g. 'wfmctl device show --help') for a command's options.\n"
	"Exit status: 0 success, 1 the request failed, 2 bad command line.\n";

static const struct wfmctl_command *const command_tables[] = {
	wfmctl_enrollment_commands,
	wfmctl_cert_commands,
	wfmctl_device_commands,
	wfmctl_deploy_commands,
	wfmctl_undeploy_commands,
	wfmctl_rollout_commands,
	wfmctl_operator_commands,
	wfmctl_audit_commands,
};

#define NTABLES (sizeof(command_tables) / sizeof(command_tables[0]))

static void vfail(struct wfmctl *ctx, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Exactly one line, whatever the message holds. */
	for (char *p = msg; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	if (ctx != NULL && ctx->command != NULL)
		fprintf(stderr, "wfmctl: %s: %s\n", ctx->command, msg);
	else
		fprintf(stderr, "wfmctl: %s\n", msg);
}

int wfmctl_fail(struct wfmctl *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ctx, fmt, ap);
	va_end(ap);
	return WFMCTL_EXIT_FAIL;
}

int wfmctl_usage_error(struct wfmctl *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wfmctl_fail(ctx, "%s (see 'wfmctl %s%s--help')", msg,
		    ctx != NULL && ctx->command != NULL ? ctx->command : "",
		    ctx != NULL && ctx->command != NULL ? " " : "");
	return WFMCTL_EXIT_USAGE;
}

int wfmctl_print_help(const struct wfmctl_command *cmd)
{
	fputs(cmd->help, stdout);
	return WFMCTL_EXIT_OK;
}

/* The global options, accepted before and after the command words. */
static int global_option(struct wfmctl *ctx, const char *name, const char ***value, int **flag)
{
	*value = NULL;
	*flag = NULL;
	if (strcmp(name, "data-dir") == 0)
		*value = &ctx->data_dir;
	else if (strcmp(name, "url") == 0)
		*value = &ctx->url;
	else if (strcmp(name, "ca-file") == 0)
		*value = &ctx->ca_file;
	else if (strcmp(name, "token-file") == 0)
		*value = &ctx->token_file;
	else if (strcmp(name, "json") == 0)
		*flag = &ctx->json;
	else if (strcmp(name, "limit") == 0)
		*value = &ctx->limit;
	else if (strcmp(name, "after") == 0)
		*value = &ctx->after;
	else if (strcmp(name, "help") == 0)
		*flag = &ctx->help;
	else
		return 0;
	return 1;
}

/* Parses options until the end, or (stop_at_positional) the first positional argument,
 * whose index goes to *stop. */
static int parse(struct wfmctl *ctx, int argc, char **argv, const struct wfmctl_opt *opts,
		 char **pos, int maxpos, int *npos, int stop_at_positional, int *stop)
{
	int only_positional = 0;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq, **value = NULL;
		char name[64];
		int *flag = NULL, found = 0;
		size_t len;

		if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (stop_at_positional) {
				*stop = i;
				return 0;
			}
			if (*npos >= maxpos)
				return wfmctl_usage_error(ctx, "unexpected argument '%s'", arg);
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_positional = 1;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			ctx->help = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return wfmctl_usage_error(ctx, "unknown option '%s'", arg);
		eq = strchr(arg + 2, '=');
		len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (len == 0 || len >= sizeof(name))
			return wfmctl_usage_error(ctx, "unknown option '%s'", arg);
		memcpy(name, arg + 2, len);
		name[len] = '\0';
		for (const struct wfmctl_opt *o = opts; o != NULL && o->name != NULL; o++) {
			if (strcmp(o->name, name) == 0) {
				value = o->value;
				flag = o->flag;
				found = 1;
				break;
			}
		}
		if (!found)
			found = global_option(ctx, name, &value, &flag);
		if (!found)
			return wfmctl_usage_error(ctx, "unknown option '--%s'", name);
		if (flag != NULL) {
			if (eq != NULL)
				return wfmctl_usage_error(ctx, "option '--%s' takes no value", name);
			*flag = 1;
			continue;
		}
		if (eq != NULL) {
			*value = eq + 1;
		} else {
			if (i + 1 >= argc)
				return wfmctl_usage_error(ctx, "option '--%s' needs a value", name);
			*value = argv[++i];
		}
	}
	if (stop_at_positional)
		*stop = argc;
	return 0;
}

int wfmctl_parse_args(struct wfmctl *ctx, int argc, char **argv, const struct wfmctl_opt *opts,
		      char **pos, int maxpos, int *npos)
{
	return parse(ctx, argc, argv, opts, pos, maxpos, npos, 0, NULL);
}

static void print_command_list(FILE *f, const char *group)
{
	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct wfmctl_command *c = command_tables[t]; c->name != NULL; c++) {
			char words[64];

			if (group != NULL && strcmp(group, c->group) != 0)
				continue;
			snprintf(words, sizeof(words), "%s%s%s", c->group, c->name[0] != '\0' ? " " : "",
				 c->name);
			fprintf(f, "  %-22s %s\n", words, c->summary);
		}
	}
}

static void print_main_help(void)
{
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);

	if (f == NULL)
		return;
	print_command_list(f, NULL);
	fclose(f);
	printf(main_help, list != NULL ? list : "");
	free(list);
}

static const struct wfmctl_command *find_group(const char *group)
{
	for (size_t t = 0; t < NTABLES; t++) {
		if (strcmp(command_tables[t][0].group, group) == 0)
			return command_tables[t];
	}
	return NULL;
}

static int group_help(const char *group)
{
	printf("Usage: wfmctl [CONNECTION] [--json] %s COMMAND [ARGS...]\n\nCommands:\n", group);
	print_command_list(stdout, group);
	printf("\nRun 'wfmctl %s COMMAND --help' for details and examples; 'wfmctl --help' for "
	       "the connection options.\n", group);
	return WFMCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct wfmctl ctx = { 0 };
	const struct wfmctl_command *table, *cmd = NULL;
	char command[64], *unused[1];
	const char *group;
	int stop = 0, nunused, version = 0, ret, first;
	struct wfmctl_opt top_opts[] = { { "version", NULL, &version }, { NULL, NULL, NULL } };

	ret = parse(&ctx, argc - 1, argv + 1, top_opts, unused, 0, &nunused, 1, &stop);
	if (ret != 0)
		return ret;
	first = stop + 1;
	if (version) {
		printf("wfmctl %s\n", MARGO_VERSION);
		return WFMCTL_EXIT_OK;
	}
	if (first < argc && strcmp(argv[first], "help") == 0) {
		/* "wfmctl help device show" is "wfmctl device show --help". */
		ctx.help = 1;
		first++;
	}
	if (first >= argc) {
		if (ctx.help) {
			print_main_help();
			return WFMCTL_EXIT_OK;
		}
		fprintf(stderr, "wfmctl: missing command (see 'wfmctl --help')\n");
		return WFMCTL_EXIT_USAGE;
	}
	group = argv[first];
	table = find_group(group);
	if (table == NULL) {
		fprintf(stderr, "wfmctl: unknown command '%s' (see 'wfmctl --help')\n", group);
		return WFMCTL_EXIT_USAGE;
	}
	if (table[0].name[0] == '\0') {
		/* A command of one word ("deploy"): everything after it is its arguments. */
		cmd = table;
		ctx.command = group;
		ret = cmd->run(&ctx, argc - first - 1, argv + first + 1);
		goto done;
	}
	/* Options may sit between the group and its subcommand ("device --json list"). */
	ctx.command = group;
	ret = parse(&ctx, argc - first - 1, argv + first + 1, NULL, unused, 0, &nunused, 1, &stop);
	if (ret != 0)
		return ret;
	first = first + 1 + stop;
	if (first >= argc) {
		if (ctx.help)
			return group_help(group);
		fprintf(stderr, "wfmctl: %s: missing command (see 'wfmctl %s --help')\n", group,
			group);
		return WFMCTL_EXIT_USAGE;
	}
	for (const struct wfmctl_command *c = table; c->name != NULL; c++) {
		if (strcmp(c->name, argv[first]) == 0)
			cmd = c;
	}
	if (cmd == NULL) {
		fprintf(stderr, "wfmctl: %s: unknown command '%s' (see 'wfmctl %s --help')\n",
			group, argv[first], group);
		return WFMCTL_EXIT_USAGE;
	}
	snprintf(command, sizeof(command), "%s %s", cmd->group, cmd->name);
	ctx.command = command;
	ret = cmd->run(&ctx, argc - first - 1, argv + first + 1);
done:
	wfmctl_disconnect(&ctx);
	if (fflush(stdout) != 0 && ret == WFMCTL_EXIT_OK) {
		fprintf(stderr, "wfmctl: %s: cannot write the output\n", ctx.command);
		ret = WFMCTL_EXIT_FAIL;
	}
	return ret;
}
