/* Configuration file parser: flat `key = value` lines, `#` comments (also trailing), no
 * sections. Unknown keys and bad values are errors naming the file and line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "margo/file.h"
#include "margo/text.h"

#define LINE_MAX_LEN 4096

static const char *const day_names[7][2] = {
	{ "mon", "monday" }, { "tue", "tuesday" }, { "wed", "wednesday" },
	{ "thu", "thursday" }, { "fri", "friday" }, { "sat", "saturday" },
	{ "sun", "sunday" },
};

static const char *const role_names[] = {
	"standalone cluster", "cluster leader", "cluster worker", "standalone device",
};

int agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->state_dir = strdup(AGENT_DEFAULT_STATE_DIR);
	if (c->state_dir == NULL)
		return MARGO_ENOMEM;
	c->poll_interval = AGENT_DEFAULT_POLL_INTERVAL;
	c->poll_interval_min = AGENT_DEFAULT_POLL_INTERVAL_MIN;
	c->apply_timeout = AGENT_DEFAULT_APPLY_TIMEOUT;
	c->log_level = MARGO_LOG_INFO;
	return MARGO_OK;
}

static void clear_roles(struct agent_config *c)
{
	for (size_t i = 0; i < c->nroles; i++)
		free(c->roles[i]);
	c->nroles = 0;
}

void agent_config_free(struct agent_config *c)
{
	if (c == NULL)
		return;
	free(c->url);
	free(c->ca_fingerprint);
	free(c->state_dir);
	free(c->apply_command);
	free(c->https_proxy);
	free(c->vendor);
	free(c->model_number);
	free(c->serial_number);
	free(c->probe_root);
	free(c->path);
	clear_roles(c);
	memset(c, 0, sizeof(*c));
}

int agent_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return MARGO_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v <= 0 || v > 7LL * 86400)
		return MARGO_EINVAL;
	if (*end != '\0') {
		if (end[1] != '\0')
			return MARGO_EINVAL;
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return MARGO_EINVAL;
		}
	}
	if (v * mult > 7LL * 86400)
		return MARGO_EINVAL;
	*out = v * mult;
	return MARGO_OK;
}

/* "HH:MM" -> minutes; *p advanced past it. */
static int parse_hhmm(const char **p, int *out)
{
	const char *s = *p;
	int h, m;

	if (!isdigit((unsigned char)s[0]))
		return MARGO_EINVAL;
	h = s[0] - '0';
	s++;
	if (isdigit((unsigned char)*s))
		h = h * 10 + (*s++ - '0');
	if (*s++ != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return MARGO_EINVAL;
	m = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	/* 24:00 is accepted as the end of the day */
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return MARGO_EINVAL;
	*out = h * 60 + m;
	*p = s;
	return MARGO_OK;
}

/* Optional day name followed by space; -1 when there is none. */
static int parse_day(const char **p)
{
	const char *s = *p;
	size_t n = 0;

	while (isalpha((unsigned char)s[n]))
		n++;
	if (n == 0)
		return -1;
	for (int d = 0; d < 7; d++) {
		for (int k = 0; k < 2; k++) {
			if (strlen(day_names[d][k]) == n && strncasecmp(s, day_names[d][k], n) == 0) {
				s += n;
				while (*s == ' ' || *s == '\t')
					s++;
				*p = s;
				return d;
			}
		}
	}
	return -2;
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int agent_parse_window(const char *s, struct agent_window *out)
{
	int d1, d2, t1, t2;

	skip_ws(&s);
	d1 = parse_day(&s);
	if (d1 == -2 || parse_hhmm(&s, &t1) != 0)
		return MARGO_EINVAL;
	skip_ws(&s);
	if (*s++ != '-')
		return MARGO_EINVAL;
	skip_ws(&s);
	d2 = parse_day(&s);
	if (d2 == -2 || parse_hhmm(&s, &t2) != 0)
		return MARGO_EINVAL;
	skip_ws(&s);
	if (*s != '\0')
		return MARGO_EINVAL;
	if (d1 < 0 && d2 >= 0)
		return MARGO_EINVAL;
	if (d1 >= 0) {
		if (d2 < 0) /* "Sat 22:00-06:00": end on the same day, or the next when earlier */
			d2 = t2 > t1 ? d1 : (d1 + 1) % 7;
		out->weekly = 1;
		out->start = (d1 * 1440 + t1) % (7 * 1440);
		out->end = d2 * 1440 + t2;
		/* "Sun 24:00" is the end of the week; anything past it wraps */
		if (out->end > 7 * 1440)
			out->end -= 7 * 1440;
	} else {
		out->weekly = 0;
		out->start = t1 % 1440;
		out->end = t2; /* 24:00 is the end of the day */
	}
	if (out->start == out->end)
		return MARGO_EINVAL;
	return MARGO_OK;
}

int agent_parse_daily_window(const char *s, struct agent_window *out)
{
	struct agent_window w;

	if (agent_parse_window(s, &w) != 0 || w.weekly)
		return MARGO_EINVAL;
	*out = w;
	return MARGO_OK;
}

const char *agent_role_canonical(const char *s)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcasecmp(s, role_names[i]) == 0)
			return role_names[i];
	return NULL;
}

/* Replaces *slot with a copy of value, or NULL when value is empty. */
static int set_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (*value != '\0') {
		copy = strdup(value);
		if (copy == NULL)
			return MARGO_ENOMEM;
	}
	free(*slot);
	*slot = copy;
	return MARGO_OK;
}

static int valid_fingerprint(const char *v)
{
	size_t n = 0;

	if (strncasecmp(v, "sha256:", 7) != 0)
		return 0;
	for (v += 7; *v != '\0'; v++) {
		if (*v == ':')
			continue;
		if (!isxdigit((unsigned char)*v))
			return 0;
		n++;
	}
	return n == 64;
}

static int set_roles(struct agent_config *c, const char *value, struct margo_error *err)
{
	char *copy = strdup(value), *save = NULL, *tok;
	const char *canon;
	int rc = MARGO_OK;

	if (copy == NULL)
		return MARGO_ENOMEM;
	clear_roles(c);
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		tok = margo_text_trim(tok);
		canon = agent_role_canonical(tok);
		if (canon == NULL) {
			rc = margo_error_set(err, MARGO_EINVAL,
					     "roles: unknown role '%s' (standalone cluster, cluster leader, cluster worker, standalone device)",
					     tok);
			goto out;
		}
		if (c->nroles == AGENT_ROLES_MAX) {
			rc = margo_error_set(err, MARGO_EINVAL, "roles: too many roles");
			goto out;
		}
		c->roles[c->nroles] = strdup(canon);
		if (c->roles[c->nroles] == NULL) {
			rc = MARGO_ENOMEM;
			goto out;
		}
		c->nroles++;
	}
out:
	if (rc != MARGO_OK)
		clear_roles(c);
	free(copy);
	return rc;
}

static int set_downtime(struct agent_config *c, const char *value, struct margo_error *err)
{
	char *copy = strdup(value), *item, *next;
	int rc = MARGO_OK;

	if (copy == NULL)
		return MARGO_ENOMEM;
	if (*value == '\0') /* "downtime =" clears the windows */
		c->ndowntime = 0;
	for (item = copy; *value != '\0' && item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		item = margo_text_trim(item);
		if (c->ndowntime == AGENT_DOWNTIME_MAX) {
			rc = margo_error_set(err, MARGO_EINVAL, "downtime: more than %d windows",
					     AGENT_DOWNTIME_MAX);
			goto out;
		}
		if (agent_parse_window(item, &c->downtime[c->ndowntime]) != 0) {
			rc = margo_error_set(err, MARGO_EINVAL,
					     "downtime: bad window '%s' (expected e.g. 'Sat 22:00-Sun 06:00' or '12:00-12:30')",
					     item);
			goto out;
		}
		c->ndowntime++;
	}
out:
	free(copy);
	return rc;
}

int agent_config_set(struct agent_config *c, const char *key, const char *value,
		     struct margo_error *err)
{
	int64_t d;

	if (strcmp(key, "url") == 0) {
		size_t n = strlen(value);

		if (n > 0 && strncasecmp(value, "https://", 8) != 0)
			return margo_error_set(err, MARGO_EINVAL, "url: must start with https://");
		if (n > 0 && n <= 8)
			return margo_error_set(err, MARGO_EINVAL, "url: no host");
		if (set_string(&c->url, value) != 0)
			return MARGO_ENOMEM;
		while (c->url != NULL && c->url[strlen(c->url) - 1] == '/')
			c->url[strlen(c->url) - 1] = '\0';
		return MARGO_OK;
	}
	if (strcmp(key, "ca_fingerprint") == 0) {
		if (*value != '\0' && !valid_fingerprint(value))
			return margo_error_set(err, MARGO_EINVAL,
					       "ca_fingerprint: expected sha256:<64 hex digits>");
		return set_string(&c->ca_fingerprint, value);
	}
	if (strcmp(key, "state_dir") == 0) {
		if (*value == '\0')
			return margo_error_set(err, MARGO_EINVAL, "state_dir: empty");
		return set_string(&c->state_dir, value);
	}
	if (strcmp(key, "poll_interval") == 0 || strcmp(key, "apply_timeout") == 0) {
		if (agent_parse_duration(value, &d) != 0)
			return margo_error_set(err, MARGO_EINVAL,
					       "%s: expected seconds or a duration like 5m, 1h (1 s to 7 d)",
					       key);
		*(key[0] == 'p' ? &c->poll_interval : &c->apply_timeout) = d;
		return MARGO_OK;
	}
	if (strcmp(key, "poll_interval_min") == 0 || strcmp(key, "poll_interval_max") == 0) {
		int is_min = strcmp(key, "poll_interval_min") == 0;

		if (!is_min && *value == '\0') {
			c->poll_interval_max = 0;
			return MARGO_OK;
		}
		if (agent_parse_duration(value, &d) != 0)
			return margo_error_set(err, MARGO_EINVAL, "%s: expected seconds or a duration "
					       "like 30s, 5m (1 s to 7 d)", key);
		*(is_min ? &c->poll_interval_min : &c->poll_interval_max) = d;
		return MARGO_OK;
	}
	if (strcmp(key, "poll_hours") == 0) {
		if (*value == '\0') {
			c->has_poll_hours = 0;
			return MARGO_OK;
		}
		if (agent_parse_daily_window(value, &c->poll_hours) != 0)
			return margo_error_set(err, MARGO_EINVAL,
					       "poll_hours: expected HH:MM-HH:MM, e.g. 06:00-22:00");
		c->has_poll_hours = 1;
		return MARGO_OK;
	}
	if (strcmp(key, "downtime") == 0)
		return set_downtime(c, value, err);
	if (strcmp(key, "apply_command") == 0)
		return set_string(&c->apply_command, value);
	if (strcmp(key, "https_proxy") == 0) {
		/* a CONNECT proxy spoken to in plain HTTP (agent/https.c) */
		if (*value != '\0' && strncasecmp(value, "http://", 7) != 0)
			return margo_error_set(err, MARGO_EINVAL,
					       "https_proxy: expected an http:// URL like http://proxy:3128");
		return set_string(&c->https_proxy, value);
	}
	if (strcmp(key, "log_level") == 0) {
		if (margo_log_level_parse(value, &c->log_level) != 0)
			return margo_error_set(err, MARGO_EINVAL,
					       "log_level: expected error, warn, info or debug");
		return MARGO_OK;
	}
	if (strcmp(key, "vendor") == 0)
		return set_string(&c->vendor, value);
	if (strcmp(key, "model_number") == 0)
		return set_string(&c->model_number, value);
	if (strcmp(key, "serial_number") == 0)
		return set_string(&c->serial_number, value);
	if (strcmp(key, "roles") == 0)
		return set_roles(c, value, err);
	if (strcmp(key, "probe_root") == 0)
		return set_string(&c->probe_root, value);
	return margo_error_set(err, MARGO_EINVAL, "unknown key '%s'", key);
}

int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name,
		       struct margo_error *err)
{
	char line[LINE_MAX_LEN];
	struct margo_error e;
	size_t pos = 0, lineno = 0;
	int rc;

	while (pos < len) {
		size_t n = 0;
		char *key, *value, *eq, *hash;

		lineno++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		if (n >= sizeof(line))
			return margo_error_set(err, MARGO_EINVAL, "%s:%zu: line too long", name, lineno);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n) != NULL)
			return margo_error_set(err, MARGO_EINVAL, "%s:%zu: NUL byte", name, lineno);
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		key = margo_text_trim(line);
		if (*key == '\0')
			continue;
		if (*key == '[')
			return margo_error_set(err, MARGO_EINVAL, "%s:%zu: sections are not supported",
					       name, lineno);
		eq = strchr(key, '=');
		if (eq == NULL)
			return margo_error_set(err, MARGO_EINVAL, "%s:%zu: expected 'key = value'",
					       name, lineno);
		*eq = '\0';
		value = margo_text_trim(eq + 1);
		key = margo_text_trim(key);
		if (*key == '\0')
			return margo_error_set(err, MARGO_EINVAL, "%s:%zu: missing key", name, lineno);
		/* optional quotes around the value */
		if (strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"') {
			value[strlen(value) - 1] = '\0';
			value++;
		}
		margo_error_clear(&e);
		rc = agent_config_set(c, key, value, &e);
		if (rc == MARGO_ENOMEM)
			return margo_error_set(err, rc, "%s:%zu: out of memory", name, lineno);
		if (rc != 0)
			return margo_error_set(err, rc, "%s:%zu: %s", name, lineno, e.message);
	}
	return MARGO_OK;
}

int agent_config_load(struct agent_config *c, const char *path, int optional,
		      struct margo_error *err)
{
	struct margo_error e;
	char *text = NULL;
	size_t len = 0;
	int rc;

	free(c->path);
	c->path = strdup(path);
	if (c->path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_read(path, AGENT_CONFIG_FILE_MAX, &text, &len, &e);
	if (rc == MARGO_ENOTFOUND && optional)
		return MARGO_OK;
	if (rc != 0)
		return margo_error_set(err, rc, "%s: %s", path,
				       rc == MARGO_ENOTFOUND ? "no such file" : e.message);
	rc = agent_config_parse(c, text, len, path, err);
	free(text);
	return rc;
}
