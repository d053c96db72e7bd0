/* Rollouts: one ApplicationDeployment taken to the devices a label selector matched, in
 * waves (a canary wave first, then batches). A wave advances when at least the success
 * threshold of its devices report Installed (after its commits) within the wave timeout;
 * otherwise the rollout pauses with the failing devices named and the later waves untouched.
 * The state lives in the store (store_rollout.h); one engine thread moves every rollout
 * forward each tick, so a wfmd killed at any point resumes where the store says: a device's
 * previous version is recorded before its commit, and committing the same content twice
 * makes no second commit, so no device gets a wave twice and none is skipped.
 *
 * Protocol-neutral: handlers (api_rollouts.c) and the desired-state answers (pacing) call
 * these; nothing here knows HTTP. */
#ifndef WFMD_ROLLOUT_H
#define WFMD_ROLLOUT_H

#include <stdint.h>

#include "label.h"
#include "store_rollout.h"
#include "wfmd.h"

#define ROLLOUT_TICK_MS 500
#define ROLLOUT_DEVICES_MAX 1000000
#define ROLLOUT_WAVES_MAX 10000

struct rollout_engine;

/* Creates a rollout of r->yaml (deployment r->deployment_id, annotations.id already set)
 * with r's canary, batch/batch_percent, success_threshold, wave_timeout and auto_advance,
 * over the active devices sel matches (in id order). Fills r->id, nwaves, ndevices and
 * state. MARGO_ENOTFOUND when no active device matches. Older rollouts of the same
 * deployment id that are still going are superseded. */
int rollout_create(struct wfmd *w, struct store_rollout *r, const struct selector *sel,
		   struct margo_error *err);

/* Operator actions; MARGO_ECONFLICT (with the reason) when the rollout's state does not
 * allow it. pause: running|waiting -> paused. resume: paused -> running (the current wave
 * gets a fresh timeout), waiting -> running with the next wave. abort: running|waiting|
 * paused -> aborted, or rolling-back first when rollback is set (each deployed device gets
 * its previous version of the deployment back, or loses it where it had none). */
int rollout_pause(struct wfmd *w, const char *id, struct margo_error *err);
int rollout_resume(struct wfmd *w, const char *id, struct margo_error *err);
int rollout_abort(struct wfmd *w, const char *id, int rollback, struct margo_error *err);

/* One pass over every running and rolling-back rollout at time now. */
int rollout_tick(struct wfmd *w, int64_t now, struct margo_error *err);

/* The engine thread: a tick every tick_ms until rollout_engine_stop. */
int rollout_engine_start(struct wfmd *w, unsigned tick_ms, struct rollout_engine **out,
			 struct margo_error *err);
void rollout_engine_stop(struct rollout_engine *e);

/* Server-paced polling: the interval to send a device in Margo-Poll-Interval, or 0 for none:
 * w->poll_interval_active while it is in the current wave of a running rollout and has not
 * reported Installed, else w->poll_interval_rest (0 by default). Lock-protected lookup in a
 * set the engine rebuilds every tick. */
long rollout_poll_hint(struct wfmd *w, const char *device_id);

#endif
