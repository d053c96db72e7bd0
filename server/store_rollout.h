/* The store interface, continued (store.h): rollouts, one ApplicationDeployment taken to the
 * devices a selector matched, wave after wave (rollout.h runs them). */
#ifndef WFMD_STORE_ROLLOUT_H
#define WFMD_STORE_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "margo/token.h"
#include "store.h"

#define ROLLOUT_REASON_MAX 1024

/* Rollout states: running (the engine deploys the current wave or waits for it), waiting
 * (a wave succeeded, --manual: resume starts the next), paused (by the operator, or a wave
 * missed its threshold), rolling-back (aborted, previous versions being restored), and the
 * final ones completed, aborted, superseded (a newer rollout of the same deployment id). */
struct store_rollout {
	char id[MARGO_UUID_LEN];
	char deployment_id[STORE_ID_MAX];
	char *selector;                 /* owned */
	char *yaml;                     /* owned; NULL in lists */
	size_t yaml_len;
	long canary;                    /* devices in wave 0, 0: no canary wave */
	long batch;                     /* devices per later wave, or */
	long batch_percent;             /* percent of all devices per later wave (0: batch) */
	long success_threshold;         /* percent of a wave that must report Installed */
	int64_t wave_timeout;           /* seconds */
	int auto_advance;
	char state[16];
	char reason[ROLLOUT_REASON_MAX];
	long current_wave, nwaves, ndevices;
	int wave_deployed;              /* the current wave's commits are all written */
	int64_t wave_started_at;        /* when the current wave's clock started; -1 */
	char created_by[64];
	int64_t created_at, updated_at;
};

void store_rollout_clear(struct store_rollout *r);
void store_rollouts_free(struct store_rollout *items, size_t n);

/* Inserts r (state running, wave 0) with its n devices (device_ids[i] in wave waves[i]) and
 * marks every running, waiting or paused rollout of the same deployment id superseded, in
 * one transaction. */
int store_rollout_create(store *st, const struct store_rollout *r, char (*device_ids)[MARGO_UUID_LEN],
			 const long *waves, size_t n, int64_t now, struct margo_error *err);
/* One rollout with its YAML. MARGO_ENOTFOUND. */
int store_rollout_get(store *st, const char *id, struct store_rollout *out,
		      struct margo_error *err);
/* Rollouts newest first (state NULL: any), without YAML. */
int store_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
		       struct margo_error *err);
/* Sets state, reason, current_wave, wave_deployed and wave_started_at of rollout id when its
 * state is expect_state (compare and set). MARGO_ECONFLICT when the state had moved,
 * MARGO_ENOTFOUND. */
int store_rollout_update(store *st, const char *id, const char *expect_state,
			 const struct store_rollout *r, int64_t now, struct margo_error *err);

/* A device of a rollout: waiting (untouched), deploying (previous version captured, commit
 * pending), deployed, rolled-back, skipped (no longer active when its wave came). status is
 * the latest state the device reported for the deployment after it was deployed ("" none). */
struct store_rollout_device {
	char device_id[MARGO_UUID_LEN];
	long wave;
	char state[16];
	char status[16];
	int has_previous;
	char *previous_yaml;            /* owned; NULL unless has_previous (and asked for) */
	size_t previous_len;
	int64_t status_seq;
};

void store_rollout_devices_free(struct store_rollout_device *items, size_t n);
/* The devices of a rollout in wave (-1: all), by wave then id; with_previous fills
 * previous_yaml. */
int store_rollout_devices(store *st, const char *rollout_id, const char *deployment_id,
			  long wave, int with_previous, struct store_rollout_device **items,
			  size_t *n, struct margo_error *err);
/* Moves a device of a rollout to state; for "deploying" also records the previous version
 * (previous NULL: there was none) and the device's status sequence number at that point. */
int store_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			     const char *state, const char *previous, size_t previous_len,
			     int64_t status_seq, struct margo_error *err);
/* A named lease for one of several wfmd sharing the store (the rollout engine's
 * "rollout-engine": only its holder moves rollouts). Taken for holder until now + ttl when it
 * is free, expired or holder's already (so taking it again renews it); *held says whether
 * holder has it now. */
#define STORE_LEASE_NAME_MAX 64
#define STORE_LEASE_HOLDER_MAX 256
int store_lease_take(store *st, const char *name, const char *holder, int64_t now, int64_t ttl,
		     int *held, struct margo_error *err);
/* The sequence number of the device's newest status report for deployment_id (0: none). */
int store_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
				int64_t *seq, struct margo_error *err);

#endif
