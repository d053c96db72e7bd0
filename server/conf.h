/* wfmd's configuration file (`wfmd serve --config FILE`, /etc/wfmd/wfmd.conf in the package):
 * one `key = value` per line, each key a long option of `wfmd serve` without its dashes,
 * `#` comments. The file becomes command-line arguments placed before the real ones, so one
 * parser handles both and a flag beats the file. */
#ifndef WFMD_CONF_H
#define WFMD_CONF_H

#include <getopt.h>
#include <stddef.h>

#include "margo/error.h"

#define WFMD_CONF_FILE_MAX (64 * 1024)

/* Reads path into newly allocated "--key=value" (or "--flag") strings, *args an array of
 * *nargs of them; free with wfmd_conf_args_free. Keys are checked against opts (the program's
 * long options): an unknown key, a value for a switch other than true/false/yes/no/1/0, or a
 * missing value is MARGO_EINVAL with "FILE:LINE: reason". "config", "help" and "version" are
 * not allowed in the file. */
int wfmd_conf_read(const char *path, const struct option *opts, char ***args, size_t *nargs,
		   struct margo_error *err);

void wfmd_conf_args_free(char **args, size_t nargs);

/* When argv holds --config FILE (or --config=FILE), reads FILE and sets *out_argv to argv[0],
 * the file's arguments, then argv[1..] (so a flag beats the file) and *config_path to FILE;
 * the new vector stays allocated until exit. Without --config: *out_argv = argv and
 * *config_path = NULL. Errors as wfmd_conf_read. */
int wfmd_conf_argv(int argc, char **argv, const struct option *opts, int *out_argc,
		   char ***out_argv, const char **config_path, struct margo_error *err);

/* The value of the last `key` line among args (as built by wfmd_conf_read), borrowed from
 * args, or NULL. */
const char *wfmd_conf_args_get(char *const *args, size_t nargs, const char *key);

#endif
