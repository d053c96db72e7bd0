/* wfmd configuration file: `key = value` lines turned into long options. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "margo/file.h"
#include "margo/text.h"

#define CONF_LINE_MAX 4096

static const struct option *find_option(const struct option *opts, const char *key)
{
	if (strcmp(key, "config") == 0 || strcmp(key, "help") == 0 || strcmp(key, "version") == 0)
		return NULL;
	for (; opts->name != NULL; opts++)
		if (strcmp(opts->name, key) == 0)
			return opts;
	return NULL;
}

/* "yes" 1, "no" 0, anything else -1. */
static int parse_switch(const char *v)
{
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* One line: appends its argument to args (or nothing for a blank line, a comment or a
 * switch set to false). */
static int conf_line(char *line, const struct option *opts, char **args, size_t *nargs,
		     const char *path, size_t lineno, struct margo_error *err)
{
	const struct option *o;
	char *key, *value, *eq, *hash;
	int on = 1;

	hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	key = margo_text_trim(line);
	if (*key == '\0')
		return MARGO_OK;
	eq = strchr(key, '=');
	if (eq == NULL)
		return margo_error_set(err, MARGO_EINVAL, "%s:%zu: expected 'key = value'", path,
				       lineno);
	*eq = '\0';
	key = margo_text_trim(key);
	value = margo_text_trim(eq + 1);
	if (strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"') {
		value[strlen(value) - 1] = '\0';
		value++;
	}
	o = find_option(opts, key);
	if (o == NULL)
		return margo_error_set(err, MARGO_EINVAL, "%s:%zu: unknown key '%s' (the keys are "
				       "the long options of 'wfmd serve')", path, lineno, key);
	if (o->has_arg == no_argument && (on = parse_switch(value)) < 0)
		return margo_error_set(err, MARGO_EINVAL, "%s:%zu: %s wants true or false", path,
				       lineno, key);
	if (o->has_arg != no_argument && *value == '\0')
		return margo_error_set(err, MARGO_EINVAL, "%s:%zu: %s needs a value", path, lineno,
				       key);
	if (!on)
		return MARGO_OK;
	if (asprintf(&args[*nargs], o->has_arg == no_argument ? "--%s" : "--%s=%s", key,
		     value) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	(*nargs)++;
	return MARGO_OK;
}

int wfmd_conf_read(const char *path, const struct option *opts, char ***args, size_t *nargs,
		   struct margo_error *err)
{
	char line[CONF_LINE_MAX], *text = NULL, **out = NULL;
	struct margo_error e;
	size_t len = 0, pos = 0, lineno = 0, n = 0, cap = 1;
	int rc;

	margo_error_clear(&e);
	rc = margo_file_read(path, WFMD_CONF_FILE_MAX, &text, &len, &e);
	if (rc < 0) {
		rc = margo_error_set(err, rc, "%s: %s", path, rc == MARGO_ENOTFOUND ?
				     "no such file" : e.message);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	out = calloc(cap, sizeof(*out));
	if (out == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	while (pos < len && rc == 0) {
		size_t l = strcspn(text + pos, "\n");

		lineno++;
		if (l >= sizeof(line) || memchr(text + pos, '\0', l) != NULL) {
			rc = margo_error_set(err, MARGO_EINVAL, "%s:%zu: line too long or NUL byte",
					     path, lineno);
			break;
		}
		memcpy(line, text + pos, l);
		line[l] = '\0';
		pos += l + 1;
		rc = conf_line(line, opts, out, &n, path, lineno, err);
	}
out:
	free(text);
	if (rc < 0) {
		wfmd_conf_args_free(out, n);
		return rc;
	}
	*args = out;
	*nargs = n;
	return MARGO_OK;
}

void wfmd_conf_args_free(char **args, size_t nargs)
{
	if (args == NULL)
		return;
	for (size_t i = 0; i < nargs; i++)
		free(args[i]);
	free(args);
}

const char *wfmd_conf_args_get(char *const *args, size_t nargs, const char *key)
{
	size_t kl = strlen(key);
	const char *found = NULL;

	for (size_t i = 0; i < nargs; i++)
		if (strncmp(args[i], "--", 2) == 0 && strncmp(args[i] + 2, key, kl) == 0 &&
		    args[i][2 + kl] == '=')
			found = args[i] + 3 + kl;
	return found;
}

/* The merged vector of wfmd_conf_argv (getopt's optarg pointers point into it). */
static char **merged_argv;
static char **merged_args;

int wfmd_conf_argv(int argc, char **argv, const struct option *opts, int *out_argc,
		   char ***out_argv, const char **config_path, struct margo_error *err)
{
	const char *path = NULL;
	size_t nargs = 0;
	int rc, n = 0;

	*out_argc = argc;
	*out_argv = argv;
	*config_path = NULL;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if (path == NULL)
		return MARGO_OK;
	rc = wfmd_conf_read(path, opts, &merged_args, &nargs, err);
	if (rc < 0)
		return rc;
	merged_argv = calloc((size_t)argc + nargs + 1, sizeof(*merged_argv));
	if (merged_argv == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	merged_argv[n++] = argv[0];
	for (size_t i = 0; i < nargs; i++)
		merged_argv[n++] = merged_args[i];
	for (int i = 1; i < argc; i++)
		merged_argv[n++] = argv[i];
	*out_argc = n;
	*out_argv = merged_argv;
	*config_path = path;
	return MARGO_OK;
}
