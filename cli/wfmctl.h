/* wfmctl: the operator's command-line client of wfmd's admin API (API.md section 6). */
#ifndef WFMCTL_H
#define WFMCTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "margo/httpc.h"

/* Exit codes. */
#define WFMCTL_EXIT_OK 0
#define WFMCTL_EXIT_FAIL 1     /* the server refused, or could not be reached */
#define WFMCTL_EXIT_USAGE 2    /* bad command line */

/* Everything a command needs: the connection settings from the command line or environment,
 * and, once connected, the HTTP client. */
struct wfmctl {
	const char *data_dir;
	const char *url;
	const char *ca_file;
	const char *token_file;
	int json;
	int help;
	const char *limit;      /* lists: --limit N (at most N items), NULL: all */
	const char *after;      /* lists: --after CURSOR (continue a --limit listing) */
	const char *command;    /* "device show": prefix of error messages */
	/* set by wfmctl_connect */
	struct margo_http_client *http;
	char *base_url;
	char *token;            /* admin token; secret, wiped on close */
};

/* One option of a command. Global options (--data-dir, --url, --ca-file, --token-file,
 * --json, --help) are accepted by every command and need not be listed. */
struct wfmctl_opt {
	const char *name;       /* without the leading "--" */
	const char **value;     /* takes a value: stored here (borrowed from argv) */
	int *flag;              /* a flag: set to 1 */
};

/* One subcommand, e.g. group "device", name "show"; a command of one word ("deploy") is a
 * table of its own whose only entry has the name "". */
struct wfmctl_command {
	const char *group;
	const char *name;
	int (*run)(struct wfmctl *ctx, int argc, char **argv);
	const char *summary;    /* one line for the command list */
	const char *help;       /* the full --help text (usage, options, examples) */
};

extern const struct wfmctl_command wfmctl_enrollment_commands[];
extern const struct wfmctl_command wfmctl_cert_commands[];
extern const struct wfmctl_command wfmctl_device_commands[];
extern const struct wfmctl_command wfmctl_deploy_commands[];
extern const struct wfmctl_command wfmctl_undeploy_commands[];
extern const struct wfmctl_command wfmctl_rollout_commands[];
extern const struct wfmctl_command wfmctl_operator_commands[];
extern const struct wfmctl_command wfmctl_audit_commands[];

/* ---- cmd_deploy.c ---- */

/* wfmctl device deployments DEVICE (run function of the device table). */
int wfmctl_device_deployments(struct wfmctl *ctx, int argc, char **argv);
/* For device show: prints the "Deployments:" section of device_id from the deployments list
 * route, or from fallback (the device object's "deployments" array) when the server has no
 * such route. Returns 0 or an exit code after printing one line. */
int wfmctl_print_device_deployments(struct wfmctl *ctx, const char *device_id, json_t *fallback);

/* Reads a deployment document (path "-": standard input) into *out (newly allocated,
 * NUL-terminated; at most MARGO_APPDEPLOY_MAX + 1 bytes read, so a larger one shows as too
 * big). 0, or -1 with errno. */
int wfmctl_read_document(const char *path, char **out, size_t *len);
/* A 422 from wfmd: its field errors as "FILE: /field: message" lines; any other failure as
 * one line. Returns WFMCTL_EXIT_FAIL. */
int wfmctl_print_refusal(struct wfmctl *ctx, const char *file,
			 const struct margo_http_response *resp);

/* ---- cmd_label.c ---- */

/* wfmctl device label ID [KEY=VALUE | KEY-]... (run function of the device table). */
int wfmctl_device_label(struct wfmctl *ctx, int argc, char **argv);
extern const char wfmctl_device_label_help[];
/* wfmctl device list --selector S [--state S]: every matching device, page after page. */
int wfmctl_device_select(struct wfmctl *ctx, const char *selector, const char *state);

/* ---- main.c ---- */

/* Prints "wfmctl: <command>: <message>" as one line on stderr; returns WFMCTL_EXIT_FAIL. */
int wfmctl_fail(struct wfmctl *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with a pointer to --help; returns WFMCTL_EXIT_USAGE. */
int wfmctl_usage_error(struct wfmctl *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a command's arguments (argv[0] is the first argument after the command words):
 * options from opts and the global ones anywhere, "--opt value" or "--opt=value", "--" ends
 * options. Positional arguments go to pos (at most maxpos; *npos gets the count). Returns 0 or
 * WFMCTL_EXIT_USAGE after printing the problem. */
int wfmctl_parse_args(struct wfmctl *ctx, int argc, char **argv, const struct wfmctl_opt *opts,
		      char **pos, int maxpos, int *npos);

/* Prints the --help text of a command to stdout and returns WFMCTL_EXIT_OK. */
int wfmctl_print_help(const struct wfmctl_command *cmd);

/* ---- parse.c ---- */

/* "3600", "90s", "15m", "24h", "7d", or a sum such as "1h30m". 0 and *secs, or -1. */
int wfmctl_duration_parse(const char *s, int64_t *secs);
/* A decimal integer in [min, max]. 0 or -1. */
int wfmctl_long_parse(const char *s, long min, long max, long *out);

/* ---- client.c ---- */

/* Resolves the connection settings (options, then WFMCTL_* environment, then --data-dir
 * files), reads the CA and the admin token and creates the HTTP client. Returns 0 or an exit
 * code after printing one line. */
int wfmctl_connect(struct wfmctl *ctx);
void wfmctl_disconnect(struct wfmctl *ctx);

/* One admin API call. body (may be NULL) is sent as JSON. On 2xx returns 0 with *out the
 * parsed response (NULL when the body is empty; caller json_decref()s) and, when raw is not
 * NULL, the body text (caller frees). Otherwise prints one line ("404 Not Found: ...") and
 * returns WFMCTL_EXIT_FAIL. */
int wfmctl_call(struct wfmctl *ctx, const char *method, const char *path, json_t *body,
		json_t **out, char **raw);


/* One admin API request with any body (NULL for none; sent with content_type). Returns 0 with
 * *resp filled (whatever the status; caller margo_http_response_free()s) or, when no answer
 * came, an exit code after printing one line. */
int wfmctl_request(struct wfmctl *ctx, const char *method, const char *path,
		   const char *content_type, const char *body, size_t body_len,
		   struct margo_http_response *resp);

/* Prints the one-line summary of a failed response ("422 ...: ..."); returns
 * WFMCTL_EXIT_FAIL. */
int wfmctl_fail_response(struct wfmctl *ctx, const struct margo_http_response *resp);

/* path + "/" + the percent-encoded segment, newly allocated (NULL when out of memory). */
char *wfmctl_path_join(const char *path, const char *segment);

/* Writes raw JSON text to stdout, with a final newline. */
void wfmctl_print_raw(const char *raw);

/* ---- list.c ---- */

/* Server pages hold at most this many items (API.md: limit). */
#define WFMCTL_PAGE_MAX 1000

/* GETs a list, page after page (following "next" until it is null, or until --limit items).
 * With --json prints one document {"items": [...], "next": cursor or null} as the pages
 * arrive (constant memory) and leaves *items NULL; otherwise sets *items to every item, in
 * the array inside *resp (caller json_decref()s *resp), and prints nothing. When --limit
 * stopped it before the end, a table command prints wfmctl_list_more() after its table.
 * Returns WFMCTL_EXIT_OK or, after printing one line, an exit code. */
int wfmctl_get_items(struct wfmctl *ctx, const char *path, json_t **resp, json_t **items);
/* After a table from wfmctl_get_items: "More: ... --after CURSOR" when --limit cut the list
 * (the cursor is kept in *resp as "next"). */
void wfmctl_list_more(struct wfmctl *ctx, json_t *resp);

#define WFMCTL_ROW_BUF 256
/* A list command's table: the columns, what to say when the list is empty, and how an item
 * becomes a row (cells[0..ncols), NULL shows as "-"; buf, WFMCTL_ROW_BUF bytes, holds any
 * cell made for the row). */
struct wfmctl_list {
	size_t ncols;
	const char *const *headers;
	const char *empty;
	void (*row)(json_t *item, const char **cells, char *buf);
};
/* GETs path through wfmctl_get_items (every page, or --limit; --json prints the items) and
 * prints l's table and the "More:" hint, or l->empty. Returns an exit code. */
int wfmctl_list_table(struct wfmctl *ctx, const char *path, const struct wfmctl_list *l);

/* ---- table.c ---- */

struct wfmctl_table;

struct wfmctl_table *wfmctl_table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; NULL shows as "-"). Returns 0 or MARGO_ENOMEM. */
int wfmctl_table_add(struct wfmctl_table *t, const char *const *cells);
/* Prints the table aligned, two spaces between columns, to stdout. */
void wfmctl_table_print(const struct wfmctl_table *t);
/* The same, each line indented by indent spaces. */
void wfmctl_table_print_indented(const struct wfmctl_table *t, int indent);
size_t wfmctl_table_rows(const struct wfmctl_table *t);
void wfmctl_table_free(struct wfmctl_table *t);

/* Prints "  label:<padding> value" lines with labels aligned to width. */
void wfmctl_kv(int width, const char *label, const char *value);

/* Helpers to read members of server JSON for display (NULL/"-" when absent). */
const char *wfmctl_json_str(json_t *obj, const char *key);
/* A member as display text whatever its type: strings as is, numbers and booleans printed,
 * null and absent as NULL. Numbers and booleans are written into buf (size cap). */
const char *wfmctl_json_text(json_t *obj, const char *key, char *buf, size_t cap);
/* The list inside a list response: {"items": [...]} or a bare array; NULL otherwise. */
json_t *wfmctl_json_items(json_t *doc);

/* Prints text as a QR code (libqrencode, error correction M) with UTF-8 half blocks, as
 * `qrencode -t UTF8 -l M -m 2` does. -1 when it cannot be encoded. */
int wfmctl_qr_print(FILE *f, const char *text);

#endif
