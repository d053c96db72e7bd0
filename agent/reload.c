/* Applying a re-read configuration file to the running loop. */
#include <stddef.h>
#include <string.h>

#include "margo/log.h"
#include "reload.h"

/* Keys that take a restart, compared to tell the operator their change is not applied. */
static const struct {
	const char *key;
	size_t offset;
} restart_keys[] = {
	{ "url", offsetof(struct agent_config, url) },
	{ "apply_command", offsetof(struct agent_config, apply_command) },
	{ "https_proxy", offsetof(struct agent_config, https_proxy) },
};

static const char *string_at(const struct agent_config *c, size_t offset)
{
	const char *s = *(char *const *)(const void *)((const char *)c + offset);

	return s != NULL ? s : "";
}

int agent_config_reload(struct agent_config *live, struct margo_error *err)
{
	struct agent_config fresh;
	int rc;

	if (live->path == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no configuration file to reload");
	if (agent_config_init(&fresh) != 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = agent_config_load(&fresh, live->path, 0, err);
	if (rc != 0)
		goto out;
	live->poll_interval = fresh.poll_interval;
	live->poll_interval_min = fresh.poll_interval_min;
	live->poll_interval_max = fresh.poll_interval_max;
	live->has_poll_hours = fresh.has_poll_hours;
	live->poll_hours = fresh.poll_hours;
	memcpy(live->downtime, fresh.downtime, sizeof(live->downtime));
	live->ndowntime = fresh.ndowntime;
	live->log_level = fresh.log_level;
	margo_log_set_level(live->log_level);
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]); i++)
		if (strcmp(string_at(live, restart_keys[i].offset),
			   string_at(&fresh, restart_keys[i].offset)) != 0)
			margo_log_warn("configuration key changed, takes a restart", "key=%s",
				       restart_keys[i].key);
	margo_log_info("configuration reloaded", "config=%s poll_interval=%llds poll_hours=%d "
		       "downtime_windows=%zu log_level=%s", live->path,
		       (long long)live->poll_interval, live->has_poll_hours, live->ndowntime,
		       margo_log_level_name(live->log_level));
out:
	agent_config_free(&fresh);
	return rc;
}
