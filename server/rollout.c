/* Rollouts (rollout.h): creation, operator actions, the engine's tick and the pacing set. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "fleet.h"
#include "rollout.h"
#include "rollout_target.h"

struct rollout_engine {
	struct wfmd *w;
	unsigned tick_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	/* devices in the current wave of a running rollout that have not reported Installed,
	 * sorted; rebuilt every tick */
	pthread_rwlock_t active_lock;
	char (*active)[MARGO_UUID_LEN];
	size_t nactive;
	/* Several wfmd may share one store: only the holder of the store's "rollout-engine"
	 * lease moves rollouts; the others only rebuild their pacing set. */
	char holder[STORE_LEASE_HOLDER_MAX];
	int leader;                     /* -1 until the first tick */
	int64_t lease_until;            /* the leader's term */
	int64_t next_try;               /* a follower's next attempt */
};

#define LEASE_NAME "rollout-engine"
#define LEASE_TTL 15    /* seconds; the leader renews it once half of it has run out */
#define LEASE_RETRY 5   /* seconds between a follower's attempts (a write each) */

/* ---- creation ---- */

struct pick {
	char (*ids)[MARGO_UUID_LEN];
	size_t n, cap;
};

static int pick_one(void *ctx, const struct store_fleet_device *d, const struct fleet_labels *l)
{
	struct pick *p = ctx;

	(void)l;
	if (p->n == ROLLOUT_DEVICES_MAX)
		return MARGO_ELIMIT;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		void *v = realloc(p->ids, cap * sizeof(*p->ids));

		if (v == NULL)
			return MARGO_ENOMEM;
		p->ids = v;
		p->cap = cap;
	}
	snprintf(p->ids[p->n++], MARGO_UUID_LEN, "%s", d->id);
	return 0;
}

/* Wave of each of n devices: the first canary in wave 0, then batches. */
static long assign_waves(const struct store_rollout *r, size_t n, long *waves)
{
	size_t canary = r->canary > 0 ? (size_t)r->canary : 0, batch;

	if (canary > n)
		canary = n;
	batch = r->batch_percent > 0 ? (n * (size_t)r->batch_percent + 99) / 100 :
		(size_t)r->batch;
	if (batch < 1)
		batch = 1;
	for (size_t i = 0; i < n; i++)
		waves[i] = i < canary ? 0 : (long)((canary > 0) + (i - canary) / batch);
	return n > 0 ? waves[n - 1] + 1 : 0;
}

int rollout_create(struct wfmd *w, struct store_rollout *r, const struct selector *sel,
		   struct margo_error *err)
{
	struct pick p = { NULL, 0, 0 };
	long *waves = NULL;
	int rc;

	rc = fleet_select(w->store, sel, "active", NULL, pick_one, &p, err);
	if (rc == MARGO_ENOMEM || rc == MARGO_ELIMIT)
		rc = margo_error_set(err, rc, rc == MARGO_ENOMEM ? "out of memory" :
				     "a rollout takes at most %d devices", ROLLOUT_DEVICES_MAX);
	if (rc < 0)
		goto out;
	if (p.n == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "the selector matches no active device");
		goto out;
	}
	waves = calloc(p.n, sizeof(*waves));
	if (waves == NULL || margo_uuid_v4(r->id) < 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	r->nwaves = assign_waves(r, p.n, waves);
	if (r->nwaves > ROLLOUT_WAVES_MAX) {
		rc = margo_error_set(err, MARGO_EINVAL, "%ld waves; at most %d (raise the batch size)",
				     r->nwaves, ROLLOUT_WAVES_MAX);
		goto out;
	}
	r->ndevices = (long)p.n;
	r->current_wave = 0;
	r->wave_deployed = 0;
	r->wave_started_at = -1;
	snprintf(r->state, sizeof(r->state), "running");
	r->reason[0] = '\0';
	rc = store_rollout_create(w->store, r, p.ids, waves, p.n, margo_time_now(), err);
	if (rc == 0)
		margo_log_info("rollout created", "rollout_id=%s deployment_id=%s devices=%zu waves=%ld",
			       r->id, r->deployment_id, p.n, r->nwaves);
out:
	free(p.ids);
	free(waves);
	return rc;
}

/* ---- operator actions ---- */

static int act(struct wfmd *w, const char *id, const char *const *from, const char *to,
	       const char *reason, int next_wave, struct margo_error *err)
{
	struct store_rollout r;
	char expect[16];
	int rc, allowed = 0;

	if ((rc = store_rollout_get(w->store, id, &r, err)) < 0)
		return rc;
	for (size_t i = 0; from[i] != NULL; i++)
		allowed |= strcmp(r.state, from[i]) == 0;
	if (!allowed) {
		rc = margo_error_set(err, MARGO_ECONFLICT, "rollout %s is %s", id, r.state);
		goto out;
	}
	snprintf(expect, sizeof(expect), "%s", r.state);
	if (strcmp(r.state, "waiting") == 0 && next_wave) {
		r.current_wave++;
		r.wave_deployed = 0;
		r.wave_started_at = -1;
	} else if (strcmp(to, "running") == 0 && r.wave_deployed) {
		r.wave_started_at = margo_time_now();     /* a fresh timeout for the wave */
	}
	snprintf(r.state, sizeof(r.state), "%s", to);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	rc = store_rollout_update(w->store, id, expect, &r, margo_time_now(), err);
	if (rc == 0)
		margo_log_info("rollout changed", "rollout_id=%s from=%s to=%s", id, expect, to);
out:
	store_rollout_clear(&r);
	return rc;
}

int rollout_pause(struct wfmd *w, const char *id, struct margo_error *err)
{
	static const char *const from[] = { "running", "waiting", NULL };

	return act(w, id, from, "paused", "paused by the operator", 0, err);
}

int rollout_resume(struct wfmd *w, const char *id, struct margo_error *err)
{
	static const char *const from[] = { "paused", "waiting", NULL };

	return act(w, id, from, "running", "", 1, err);
}

int rollout_abort(struct wfmd *w, const char *id, int rollback, struct margo_error *err)
{
	static const char *const from[] = { "running", "waiting", "paused", NULL };

	return act(w, id, from, rollback ? "rolling-back" : "aborted",
		   rollback ? "aborted by the operator; restoring previous versions"
			    : "aborted by the operator", 0, err);
}

/* ---- the engine's tick ---- */

/* Devices committed per store transaction: one commit per device, but a WAL commit per
 * hundred (the 10,000-device fan-out spent most of its time committing row by row). */
#define DEPLOY_BATCH 128

/* One device of the wave: its previous version captured ("deploying"), then the commit
 * ("deployed"); a device no longer active is "skipped". */
static int deploy_device(struct wfmd *w, struct store_rollout *r,
			 struct store_rollout_device *d, int64_t now, struct margo_error *err)
{
	struct store_device dev;
	char *prev = NULL;
	size_t prev_len = 0;
	int64_t seq = 0;
	int rc;

	if (strcmp(d->state, "waiting") == 0) {
		memset(&dev, 0, sizeof(dev));
		rc = store_device_get(w->store, d->device_id, now, &dev, err);
		if (rc == MARGO_ENOTFOUND || (rc == 0 && strcmp(dev.state, "active") != 0)) {
			store_device_clear(&dev);
			return store_rollout_device_set(w->store, r->id, d->device_id, "skipped",
							NULL, 0, 0, err);
		}
		store_device_clear(&dev);
		if (rc == 0)
			rc = rollout_target_get(w, d->device_id, r->deployment_id, &prev,
						&prev_len, err);
		if (rc == MARGO_ENOTFOUND)
			rc = 0;
		if (rc == 0)
			rc = store_deployment_status_seq(w->store, d->device_id, r->deployment_id,
							 &seq, err);
		if (rc == 0)
			rc = store_rollout_device_set(w->store, r->id, d->device_id, "deploying",
						      prev, prev_len, seq, err);
		free(prev);
		if (rc < 0)
			return rc;
		snprintf(d->state, sizeof(d->state), "deploying");
	}
	if (strcmp(d->state, "deploying") != 0)
		return 0;
	rc = rollout_target_put(w, d->device_id, r->deployment_id, r->yaml, r->yaml_len, r->id,
				err);
	if (rc == 0)
		rc = store_rollout_device_set(w->store, r->id, d->device_id, "deployed", NULL, 0, 0,
					      err);
	return rc;
}

/* Takes or renews the engine's lease (always held when no engine runs: rollout_tick called
 * directly): the leader writes only once half its term has run out, a follower tries every
 * LEASE_RETRY seconds, so an idle store sees a write every few seconds, not every tick.
 * 0 with *held, or an error. */
static int lease(struct wfmd *w, int *held, struct margo_error *err)
{
	struct rollout_engine *e = w->rollouts;
	int64_t now = margo_time_now();
	int rc;

	*held = 1;
	if (e == NULL || (e->leader == 1 && now < e->lease_until - LEASE_TTL / 2))
		return 0;
	*held = 0;
	if (e->leader == 0 && now < e->next_try)
		return 0;
	rc = store_lease_take(w->store, LEASE_NAME, e->holder, now, LEASE_TTL, held, err);
	if (rc == 0 && *held != e->leader)
		margo_log_info(*held ? "rollout engine leads" : "rollout engine follows",
			       "holder=%s", e->holder);
	e->leader = rc == 0 && *held;
	e->lease_until = e->leader ? now + LEASE_TTL : 0;
	e->next_try = now + LEASE_RETRY;
	return rc;
}

/* Deploys the current wave, DEPLOY_BATCH devices per transaction, renewing the lease before
 * each (another wfmd takes over a wave whose engine stopped). A crash loses at most the open
 * batch, whose devices are still "waiting" (or "deploying") at the next tick. */
static int deploy_wave(struct wfmd *w, struct store_rollout *r,
		       struct store_rollout_device *d, size_t n, int64_t now,
		       struct margo_error *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i += DEPLOY_BATCH) {
		size_t end = i + DEPLOY_BATCH < n ? i + DEPLOY_BATCH : n;
		int held;

		if ((rc = lease(w, &held, err)) < 0)
			break;
		if (!held)
			return margo_error_set(err, MARGO_ECONFLICT, "another wfmd took over the "
					       "rollout engine");
		if ((rc = store_batch_begin(w->store, err)) < 0)
			break;
		for (size_t j = i; rc == 0 && j < end; j++)
			rc = deploy_device(w, r, &d[j], now, err);
		rc = store_batch_end(w->store, rc, err);
	}
	if (rc < 0)
		return rc;
	r->wave_deployed = 1;
	r->wave_started_at = now;
	margo_log_info("rollout wave deployed", "rollout_id=%s wave=%ld devices=%zu", r->id,
		       r->current_wave, n);
	return store_rollout_update(w->store, r->id, "running", r, now, err);
}

/* "id1 (Failed), id2 (no report), ... and N more" of the devices not Installed. */
static void failing_list(const struct store_rollout_device *d, size_t n, char *out, size_t cap)
{
	size_t len = 0, shown = 0, rest = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].state, "skipped") == 0 || strcasecmp(d[i].status, "Installed") == 0)
			continue;
		if (shown == 20 || len + 64 >= cap) {
			rest++;
			continue;
		}
		len += (size_t)snprintf(out + len, cap - len, "%s%s (%s)", shown ? ", " : "",
					d[i].device_id, d[i].status[0] ? d[i].status : "no report");
		shown++;
	}
	if (rest > 0 && len + 32 < cap)
		snprintf(out + len, cap - len, " and %zu more", rest);
}

/* Decides about a deployed wave. */
static int judge_wave(struct wfmd *w, struct store_rollout *r,
		      const struct store_rollout_device *d, size_t n, int64_t now,
		      struct margo_error *err)
{
	size_t total = 0, installed = 0, failed = 0, needed;
	char failing[ROLLOUT_REASON_MAX / 2];

	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].state, "skipped") == 0)
			continue;
		total++;
		installed += strcasecmp(d[i].status, "Installed") == 0;
		failed += strcasecmp(d[i].status, "Failed") == 0;
	}
	needed = (total * (size_t)r->success_threshold + 99) / 100;
	if (installed >= needed) {
		if (r->current_wave + 1 >= r->nwaves) {
			snprintf(r->state, sizeof(r->state), "completed");
			snprintf(r->reason, sizeof(r->reason), "all %ld waves succeeded", r->nwaves);
		} else if (r->auto_advance) {
			r->current_wave++;
			r->wave_deployed = 0;
			r->wave_started_at = -1;
		} else {
			snprintf(r->state, sizeof(r->state), "waiting");
			snprintf(r->reason, sizeof(r->reason), "wave %ld succeeded (%zu of %zu "
				 "installed); 'rollout resume' starts wave %ld", r->current_wave,
				 installed, total, r->current_wave + 1);
		}
	} else if (total - failed < needed || now - r->wave_started_at >= r->wave_timeout) {
		failing_list(d, n, failing, sizeof(failing));
		snprintf(r->state, sizeof(r->state), "paused");
		snprintf(r->reason, sizeof(r->reason), "wave %ld: %zu of %zu devices installed, "
			 "%zu needed (%ld%%)%s; failing: %s", r->current_wave, installed, total,
			 needed, r->success_threshold, total - failed < needed ? "" :
			 " within the wave timeout", failing);
	} else {
		return 0;
	}
	margo_log_info("rollout wave judged", "rollout_id=%s wave=%ld installed=%zu failed=%zu "
		       "devices=%zu state=%s", r->id, r->current_wave - (r->wave_deployed ? 0 : 1),
		       installed, failed, total, r->state);
	return store_rollout_update(w->store, r->id, "running", r, now, err);
}

/* Restores the previous versions of every device a rolling-back rollout touched. */
static int roll_back(struct wfmd *w, struct store_rollout *r, int64_t now,
		     struct margo_error *err)
{
	struct store_rollout_device *d = NULL;
	size_t n = 0, restored = 0;
	int rc;

	rc = store_rollout_devices(w->store, r->id, r->deployment_id, -1, 1, &d, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (strcmp(d[i].state, "deployed") != 0 && strcmp(d[i].state, "deploying") != 0)
			continue;
		if (d[i].has_previous)
			rc = rollout_target_put(w, d[i].device_id, r->deployment_id,
						d[i].previous_yaml, d[i].previous_len, r->id, err);
		else
			rc = rollout_target_remove(w, d[i].device_id, r->deployment_id, r->id, err);
		if (rc == 0)
			rc = store_rollout_device_set(w->store, r->id, d[i].device_id, "rolled-back",
						      NULL, 0, 0, err);
		restored++;
	}
	store_rollout_devices_free(d, n);
	if (rc < 0)
		return rc;
	snprintf(r->state, sizeof(r->state), "aborted");
	snprintf(r->reason, sizeof(r->reason), "aborted by the operator; %zu devices rolled back",
		 restored);
	margo_log_info("rollout rolled back", "rollout_id=%s devices=%zu", r->id, restored);
	return store_rollout_update(w->store, r->id, "rolling-back", r, now, err);
}

struct active_set {
	char (*ids)[MARGO_UUID_LEN];
	size_t n, cap;
};

static int active_add(struct active_set *a, const struct store_rollout_device *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].state, "skipped") == 0 || strcasecmp(d[i].status, "Installed") == 0)
			continue;
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			void *v = realloc(a->ids, cap * sizeof(*a->ids));

			if (v == NULL)
				return MARGO_ENOMEM;
			a->ids = v;
			a->cap = cap;
		}
		memcpy(a->ids[a->n++], d[i].device_id, MARGO_UUID_LEN);
	}
	return 0;
}

static int active_extend(struct wfmd *w, const struct store_rollout_device *d, size_t n);

/* One running rollout: deploy the current wave, or judge it; a follower (not holding the
 * lease) only takes the wave's devices into its pacing set. */
static int step(struct wfmd *w, struct store_rollout *r, int64_t now, struct active_set *a,
		int leader, struct margo_error *err)
{
	struct store_rollout_device *d = NULL;
	size_t n = 0;
	int rc;

	rc = store_rollout_devices(w->store, r->id, r->deployment_id, r->current_wave, 0, &d, &n,
				   err);
	if (!leader) {
		if (rc == 0)
			rc = active_add(a, d, n);
		store_rollout_devices_free(d, n);
		return rc;
	}
	/* The wave's devices are paced as active from their first commit on, not only after
	 * the whole wave is written: one polling in between would otherwise get the rest
	 * interval and learn of the wave that much later. */
	if (rc == 0 && !r->wave_deployed)
		rc = active_extend(w, d, n);
	if (rc == 0 && !r->wave_deployed)
		rc = deploy_wave(w, r, d, n, now, err);
	else if (rc == 0)
		rc = judge_wave(w, r, d, n, now, err);
	if (rc == 0 && strcmp(r->state, "running") == 0)
		rc = active_add(a, d, n);
	store_rollout_devices_free(d, n);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void active_publish(struct wfmd *w, struct active_set *a)
{
	struct rollout_engine *e = w->rollouts;
	char (*old)[MARGO_UUID_LEN];

	if (a->n > 1)
		qsort(a->ids, a->n, sizeof(*a->ids), cmp_id);
	if (e == NULL) {
		free(a->ids);
		return;
	}
	pthread_rwlock_wrlock(&e->active_lock);
	old = e->active;
	e->active = a->ids;
	__atomic_store_n(&e->nactive, a->n, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&e->active_lock);
	free(old);
}

/* Publishes the set in use plus the devices d (those active_add takes) at once. */
static int active_extend(struct wfmd *w, const struct store_rollout_device *d, size_t n)
{
	struct rollout_engine *e = w->rollouts;
	struct active_set a = { NULL, 0, 0 };
	int rc;

	if (e == NULL)
		return 0;
	pthread_rwlock_rdlock(&e->active_lock);
	a.cap = e->nactive;
	a.ids = a.cap > 0 ? malloc(a.cap * sizeof(*a.ids)) : NULL;
	if (a.ids != NULL) {
		memcpy(a.ids, e->active, a.cap * sizeof(*a.ids));
		a.n = a.cap;
	}
	pthread_rwlock_unlock(&e->active_lock);
	if (a.cap > 0 && a.ids == NULL)
		return MARGO_ENOMEM;
	if ((rc = active_add(&a, d, n)) < 0) {
		free(a.ids);
		return rc;
	}
	active_publish(w, &a);
	return 0;
}

int rollout_tick(struct wfmd *w, int64_t now, struct margo_error *err)
{
	struct store_rollout *items = NULL;
	struct active_set a = { NULL, 0, 0 };
	size_t n = 0;
	int rc, first = 0, leader;

	if ((rc = lease(w, &leader, err)) < 0)
		return rc;
	rc = store_rollout_list(w->store, NULL, &items, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct store_rollout r;
		int one;

		if (strcmp(items[i].state, "running") != 0 &&
		    strcmp(items[i].state, "rolling-back") != 0)
			continue;
		if ((rc = store_rollout_get(w->store, items[i].id, &r, err)) < 0)
			break;
		one = strcmp(r.state, "running") == 0 ? step(w, &r, now, &a, leader, err) :
			strcmp(r.state, "rolling-back") == 0 && leader ? roll_back(w, &r, now, err) :
			0;
		/* Another rollout goes on even when this one could not move now. */
		if (one < 0 && one != MARGO_ECONFLICT) {
			margo_log_warn("rollout step failed", "rollout_id=%s error=\"%s\"", r.id,
				       err->message);
			if (first == 0)
				first = one;
		}
		store_rollout_clear(&r);
	}
	store_rollouts_free(items, n);
	if (rc == 0)
		active_publish(w, &a);
	else
		free(a.ids);
	return rc < 0 ? rc : first;
}

/* ---- the engine thread ---- */

static void *engine_main(void *arg)
{
	struct rollout_engine *e = arg;
	struct margo_error err;
	struct timespec ts;

	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		pthread_mutex_unlock(&e->mu);
		margo_error_clear(&err);
		rollout_tick(e->w, margo_time_now(), &err);
		pthread_mutex_lock(&e->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += e->tick_ms / 1000;
		ts.tv_nsec += (long)(e->tick_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!e->stop)
			pthread_cond_timedwait(&e->cond, &e->mu, &ts);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* The engine's name as a lease holder: w->instance (host and data dir: the same across a
 * restart, so a restarted wfmd takes its lease back at once), else a random id. */
static int holder_name(const struct wfmd *w, char *out, size_t cap, struct margo_error *err)
{
	char id[MARGO_UUID_LEN];

	if (w->instance != NULL) {
		snprintf(out, cap, "%s", w->instance);
		return 0;
	}
	if (margo_uuid_v4(id) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "no random id for the rollout engine");
	snprintf(out, cap, "%s", id);
	return 0;
}

int rollout_engine_start(struct wfmd *w, unsigned tick_ms, struct rollout_engine **out,
			 struct margo_error *err)
{
	struct rollout_engine *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	e->w = w;
	e->tick_ms = tick_ms > 0 ? tick_ms : ROLLOUT_TICK_MS;
	e->leader = -1;
	if ((rc = holder_name(w, e->holder, sizeof(e->holder), err)) < 0) {
		free(e);
		return rc;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cond, NULL);
	pthread_rwlock_init(&e->active_lock, NULL);
	w->rollouts = e;
	if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
		w->rollouts = NULL;
		pthread_rwlock_destroy(&e->active_lock);
		pthread_cond_destroy(&e->cond);
		pthread_mutex_destroy(&e->mu);
		free(e);
		return margo_error_set(err, MARGO_ENOMEM, "cannot start the rollout thread");
	}
	*out = e;
	return 0;
}

void rollout_engine_stop(struct rollout_engine *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->thread, NULL);
	if (e->w->rollouts == e)
		e->w->rollouts = NULL;
	pthread_rwlock_destroy(&e->active_lock);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->mu);
	free(e->active);
	free(e);
}

long rollout_poll_hint(struct wfmd *w, const char *device_id)
{
	struct rollout_engine *e = w->rollouts;
	int in_wave = 0;

	/* no lock on the hot path while no wave is active */
	if (e != NULL && __atomic_load_n(&e->nactive, __ATOMIC_ACQUIRE) > 0) {
		pthread_rwlock_rdlock(&e->active_lock);
		in_wave = e->nactive > 0 &&
			bsearch(device_id, e->active, e->nactive, sizeof(*e->active), cmp_id) != NULL;
		pthread_rwlock_unlock(&e->active_lock);
	}
	return in_wave ? w->poll_interval_active : w->poll_interval_rest;
}
