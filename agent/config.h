/* margo-agent configuration: defaults, the flat `key = value` file, and command-line
 * overrides (a flag beats the file, which beats the default). */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"
#include "margo/log.h"

#define AGENT_DEFAULT_CONFIG "/etc/margo-agent/agent.conf"
#define AGENT_DEFAULT_STATE_DIR "/var/lib/margo-agent"
#define AGENT_DEFAULT_POLL_INTERVAL 300
#define AGENT_DEFAULT_POLL_INTERVAL_MIN 10
#define AGENT_DEFAULT_APPLY_TIMEOUT 600  /* 10 min */
#define AGENT_DOWNTIME_MAX 32
#define AGENT_ROLES_MAX 4
#define AGENT_CONFIG_FILE_MAX (64 * 1024)

/* A time window. Weekly windows count minutes from Monday 00:00 (0..10079), daily windows
 * minutes from midnight (0..1439); end may equal the period (24:00, Sun 24:00); end < start
 * means the window wraps (week end/midnight). start is inclusive, end exclusive. */
struct agent_window {
	int weekly;
	int start;
	int end;
};

struct agent_config {
	char *url;              /* WFM root URL, no trailing slash */
	char *ca_fingerprint;   /* "sha256:<hex>" pin */
	char *state_dir;
	int64_t poll_interval;  /* seconds */
	int64_t poll_interval_min; /* bounds of the WFM's pacing hint (Margo-Poll-Interval): */
	int64_t poll_interval_max; /* seconds; max 0 means poll_interval */
	int has_poll_hours;
	struct agent_window poll_hours; /* daily window */
	struct agent_window downtime[AGENT_DOWNTIME_MAX];
	size_t ndowntime;
	char *apply_command;
	int64_t apply_timeout;  /* seconds before a running apply_command is ended */
	char *https_proxy;
	enum margo_log_level log_level;
	char *vendor;           /* overrides of the probed identity */
	char *model_number;
	char *serial_number;
	char *roles[AGENT_ROLES_MAX]; /* canonical role names */
	size_t nroles;
	char *probe_root;       /* prefix for /proc and /sys (tests); NULL: "/" */
	char *path;             /* the file agent_config_load read last (SIGHUP re-reads it) */
};

/* Fills c with the defaults (state_dir, poll_interval, log_level; everything else unset). */
int agent_config_init(struct agent_config *c);

/* Frees the members of c. */
void agent_config_free(struct agent_config *c);

/* Sets one key from the file or a flag. MARGO_EINVAL with the reason (without location) for
 * an unknown key or a bad value. An empty value unsets optional keys. */
int agent_config_set(struct agent_config *c, const char *key, const char *value,
		     struct margo_error *err);

/* Parses configuration text; name is used in messages "NAME:LINE: reason". */
int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name,
		       struct margo_error *err);

/* Loads the file at path and remembers path in c->path. When optional is set a missing file
 * is not an error. */
int agent_config_load(struct agent_config *c, const char *path, int optional,
		      struct margo_error *err);

/* Parsers shared with the command line and tests. */
int agent_parse_duration(const char *s, int64_t *out);
int agent_parse_daily_window(const char *s, struct agent_window *out);
int agent_parse_window(const char *s, struct agent_window *out);
/* Canonical role name ("standalone device", ...) for a case-insensitive one, or NULL. */
const char *agent_role_canonical(const char *s);

#endif
