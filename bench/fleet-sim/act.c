/* fleet-sim: the act phase. Each device behaves as margo-agent's run loop does: it polls
 * desired-state on its own schedule (the WFM's Margo-Poll-Interval hint followed within the
 * device's floor and ceiling), fetches its repository when the revision moved, reads which
 * deployments the new commit holds (act_tree.c), reports Installing (Removing) and, after
 * the apply delay, Installed or Failed (Removed). The failures are drawn per device and
 * deployment from the seed, so a run is reproducible. Visits are driven by one min-heap of
 * due times shared by the worker threads; SIGTERM or SIGINT ends the phase. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fleet-sim.h"

#define ACT_COUNTED_MAX 32   /* deployments with their own summary line */
#define ACT_WAIT_MAX 0.2     /* a waiting worker looks at the stop flag this often */
#define FAILURE_MESSAGE "simulated apply failure (fleet-sim --failure-ratio)"

/* Reports seen for one deployment, over all devices. */
struct act_count {
	char id[FS_DEPLOYMENT_ID_MAX];
	unsigned long devices, installed, failed, removed;
	double last_report_unix;
};

struct fs_act {
	struct fs_act_dev *dev;
	size_t *heap, nheap;
	pthread_mutex_t mu; /* the heap, the counters, the devices' visited flags */
	pthread_cond_t cond;
	unsigned long ndevices; /* onboarded devices taking part */
	unsigned long polls, polls_new, hinted, clamped, updates, devices_changed, visited;
	unsigned long installing, installed, failed, removed;
	double interval_min, interval_max, last_report_unix;
	double late_sum, late_max; /* how far behind their due time visits started */
	unsigned long late_n;
	struct act_count counted[ACT_COUNTED_MAX];
	size_t ncounted;
	struct sigaction old_term, old_int;
};

static volatile sig_atomic_t act_stop;

static void act_on_signal(int sig)
{
	(void)sig;
	act_stop = 1;
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- schedule ---- */

static int due_before(const struct fs_act *A, size_t x, size_t y)
{
	return A->dev[A->heap[x]].due < A->dev[A->heap[y]].due;
}

static void heap_swap(struct fs_act *A, size_t x, size_t y)
{
	size_t t = A->heap[x];

	A->heap[x] = A->heap[y];
	A->heap[y] = t;
}

static void heap_push(struct fs_act *A, size_t dev)
{
	size_t i = A->nheap++;

	A->heap[i] = dev;
	while (i > 0 && due_before(A, i, (i - 1) / 2)) {
		heap_swap(A, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static size_t heap_pop(struct fs_act *A)
{
	size_t top = A->heap[0], i = 0;

	A->heap[0] = A->heap[--A->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < A->nheap && due_before(A, l, m))
			m = l;
		if (r < A->nheap && due_before(A, r, m))
			m = r;
		if (m == i)
			break;
		heap_swap(A, i, m);
		i = m;
	}
	return top;
}

/* The interval margo-agent would wait (agent_schedule_paced_interval): the hint clamped to
 * [floor, ceiling], the device's own interval without a hint. */
static double paced_interval(const struct fs_sim *s, long hint, int *clamped)
{
	double max = s->poll_max > 0 ? s->poll_max : s->poll_interval;
	double min = s->poll_min < max ? s->poll_min : max;

	*clamped = 0;
	if (hint <= 0)
		return s->poll_interval;
	*clamped = hint < min || hint > max;
	return hint < min ? min : hint > max ? max : (double)hint;
}

/* A number in [0, 1) from the seed, the device's index and a name (splitmix64, FNV-1a). */
static double draw(unsigned long long seed, size_t i, const char *name)
{
	uint64_t h = 1469598103934665603ULL, x;

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	x = seed ^ (h * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ULL);
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (double)(x >> 11) / 9007199254740992.0;
}

/* ---- counters ---- */

static struct act_count *counted(struct fs_act *A, const char *id)
{
	for (size_t i = 0; i < A->ncounted; i++)
		if (strcmp(A->counted[i].id, id) == 0)
			return &A->counted[i];
	if (A->ncounted == ACT_COUNTED_MAX)
		return NULL;
	snprintf(A->counted[A->ncounted].id, sizeof(A->counted[0].id), "%s", id);
	return &A->counted[A->ncounted++];
}

static void count_poll(struct fs_act *A, long hint, int clamped, double interval, int is_new)
{
	pthread_mutex_lock(&A->mu);
	A->polls++;
	A->polls_new += is_new;
	A->hinted += hint > 0;
	A->clamped += clamped;
	if (A->polls == 1 || interval < A->interval_min)
		A->interval_min = interval;
	if (interval > A->interval_max)
		A->interval_max = interval;
	pthread_mutex_unlock(&A->mu);
}

/* One report about change c sent: first (Installing, Removing) or final. */
static void count_report(struct fs_act *A, const struct fs_act_change *c, int first)
{
	struct act_count *k;
	double t = wall_now();

	pthread_mutex_lock(&A->mu);
	k = counted(A, c->id);
	if (first) {
		/* Installing or Removing; a device "got" a deployment when it installs it. */
		A->installing += !c->remove;
		if (k != NULL && !c->remove)
			k->devices++;
	} else {
		unsigned long *n = c->remove ? &A->removed : c->fail ? &A->failed : &A->installed;
		unsigned long *kn = k == NULL ? NULL : c->remove ? &k->removed :
				    c->fail ? &k->failed : &k->installed;

		(*n)++;
		if (kn != NULL) {
			(*kn)++;
			k->last_report_unix = t;
		}
		A->last_report_unix = t;
	}
	pthread_mutex_unlock(&A->mu);
}

/* ---- a device's visit ---- */

int fs_status_report(struct fs_sim *s, CURL *h, const struct fs_device *d,
		     const char *deployment_id, const char *state, const char *error)
{
	struct curl_slist *hdrs = fs_bearer_headers(d, "Content-Type: application/json");
	char path[FS_DEPLOYMENT_ID_MAX + 160], *body = NULL;
	json_t *doc, *e = error != NULL ? json_pack("{s:s, s:s}", "code", "apply-failed",
						     "message", error) : json_null();
	int rc = -1;

	snprintf(path, sizeof(path), "/device/%s/deployment/%s/status", d->client_id,
		 deployment_id);
	doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:O}, s:[{s:s, s:s, s:O}]}",
			"apiVersion", "deployment.margo/v1", "kind", "DeploymentStatus",
			"deploymentId", deployment_id, "status", "state", state, "error", e,
			"components", "name", "app", "state", state, "error", e);
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (h != NULL && hdrs != NULL && body != NULL)
		rc = fs_request(s, h, &(struct fs_req){
			.route = "POST /device/{id}/deployment/{deploymentId}/status",
			.method = "POST", .path = path, .hdrs = hdrs, .body = body,
			.body_len = strlen(body), .want = 201, .want2 = 201 }, NULL);
	else
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
	json_decref(doc);
	json_decref(e);
	free(body);
	curl_slist_free_all(hdrs);
	return rc;
}

/* The final reports of the changes a device applied: Installed, Failed or Removed. */
static int act_finish(struct fs_sim *s, CURL *h, size_t i, struct fs_act_change *c, size_t n)
{
	int rc = 0;

	for (size_t k = 0; k < n; k++) {
		const char *state = c[k].remove ? "Removed" : c[k].fail ? "Failed" : "Installed";

		if (fs_status_report(s, h, &s->dev[i], c[k].id, state,
				     c[k].fail ? FAILURE_MESSAGE : NULL) == 0)
			count_report(s->act, &c[k], 0);
		else
			rc = -1;
	}
	return rc;
}

/* A new revision: fetch, read the deployments, report Installing or Removing, then the final
 * reports now or after the apply delay. */
static int act_update(struct fs_sim *s, CURL *h, size_t i)
{
	struct fs_act *A = s->act;
	struct fs_act_dev *a = &A->dev[i];
	struct fs_device *d = &s->dev[i];
	struct fs_act_change *c = NULL;
	struct fs_pack pk;
	const char *why;
	char oid[41];
	size_t n = 0;
	int rc = fs_git_fetch(s, d, h, oid, &pk);

	if (rc <= 0)
		return rc;
	why = fs_act_tree_apply(&pk, oid, a, &c, &n);
	fs_pack_free(&pk);
	if (why != NULL) {
		fs_stats_request(s->stats, why, 0, 0, 0);
		return -1;
	}
	memcpy(d->git_oid, oid, sizeof(oid));
	rc = 0;
	for (size_t k = 0; k < n; k++) {
		const char *state = c[k].remove ? "Removing" : "Installing";

		c[k].fail = !c[k].remove && s->failure_ratio > 0 &&
			    (s->failure_deployment == NULL ||
			     strcmp(s->failure_deployment, c[k].id) == 0) &&
			    draw(s->seed, i, c[k].id) < s->failure_ratio;
		if (fs_status_report(s, h, d, c[k].id, state, NULL) == 0)
			count_report(A, &c[k], 1);
		else
			rc = -1;
	}
	pthread_mutex_lock(&A->mu);
	A->updates++;
	if (n > 0 && !a->changed) {
		a->changed = 1;
		A->devices_changed++;
	}
	pthread_mutex_unlock(&A->mu);
	if (n > 0 && s->apply_delay > 0) {
		a->owed = c;
		a->nowed = n;
		a->due = fs_now() + s->apply_delay;
		return rc;
	}
	if (act_finish(s, h, i, c, n) != 0)
		rc = -1;
	free(c);
	return rc;
}

/* GET desired-state with the device's ETag; the next poll follows the hint within the
 * device's bounds; a new revision is fetched and acted on. */
static void act_poll(struct fs_sim *s, CURL *h, size_t i, double t0)
{
	struct fs_act_dev *a = &s->act->dev[i];
	struct fs_device *d = &s->dev[i];
	struct curl_slist *hdrs;
	char inm[320], path[256], *etag = NULL;
	long status = 0, hint = 0;
	double interval;
	int rc, clamped, is_new;

	snprintf(inm, sizeof(inm), "If-None-Match: %s", d->etag != NULL ? d->etag : "");
	snprintf(path, sizeof(path), "/device/%s/desired-state", d->client_id);
	hdrs = fs_bearer_headers(d, d->etag != NULL ? inm : NULL);
	rc = hdrs == NULL ? -1 :
	     fs_request(s, h, &(struct fs_req){ .route = "GET /device/{id}/desired-state",
						.method = "GET", .path = path, .hdrs = hdrs,
						.want = 200, .want2 = 304, .etag = &etag,
						.poll_hint = &hint }, &status);
	if (hdrs == NULL)
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
	interval = paced_interval(s, hint, &clamped);
	a->next_poll = t0 + interval;
	a->due = a->next_poll;
	is_new = rc == 0 && status == 200 && etag != NULL &&
		 (d->etag == NULL || strcmp(etag, d->etag) != 0);
	count_poll(s->act, hint, clamped, interval, is_new);
	/* The ETag is kept once the revision is acted on: a failed fetch is retried next poll. */
	if (is_new && (rc = act_update(s, h, i)) == 0) {
		free(d->etag);
		d->etag = etag;
		etag = NULL;
	}
	fs_stats_unit(s->stats, is_new ? "update" : "poll", rc == 0, (fs_now() - t0) * 1000.0);
	free(etag);
	curl_slist_free_all(hdrs);
}

/* One visit on its own connection: the final reports when they are due, else a poll. */
static void act_visit(struct fs_sim *s, size_t i)
{
	struct fs_act_dev *a = &s->act->dev[i];
	double t0 = fs_now();
	CURL *h = fs_conn_new(s);

	if (h == NULL) {
		fs_stats_request(s->stats, "(client setup)", 0, 0, 0);
		fs_stats_unit(s->stats, NULL, 0, 0);
		a->due = t0 + s->poll_interval;
		return;
	}
	if (a->nowed > 0) {
		int rc = act_finish(s, h, i, a->owed, a->nowed);

		fs_stats_unit(s->stats, "report", rc == 0, (fs_now() - t0) * 1000.0);
		free(a->owed);
		a->owed = NULL;
		a->nowed = 0;
		a->due = a->next_poll > t0 ? a->next_poll : t0;
	} else {
		act_poll(s, h, i, t0);
	}
	curl_easy_cleanup(h);
}

/* ---- the phase ---- */

static void wait_until(struct fs_act *A, double until)
{
	struct timespec ts;
	double now = fs_now();

	if (until > now + ACT_WAIT_MAX)
		until = now + ACT_WAIT_MAX;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until -= now;
	ts.tv_sec += (time_t)until;
	ts.tv_nsec += (long)((until - (double)(time_t)until) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&A->cond, &A->mu, &ts);
}

void *fs_act_worker(void *arg)
{
	struct fs_sim *s = arg;
	struct fs_act *A = s->act;

	pthread_mutex_lock(&A->mu);
	for (;;) {
		double now = fs_now();
		size_t i;

		if (act_stop || now >= s->deadline)
			break;
		if (A->nheap == 0 || A->dev[A->heap[0]].due > now) {
			wait_until(A, A->nheap == 0 ? s->deadline :
				   A->dev[A->heap[0]].due < s->deadline ? A->dev[A->heap[0]].due :
				   s->deadline);
			continue;
		}
		i = heap_pop(A);
		/* The simulator keeps up when visits start on time (the act line says). */
		A->late_sum += now - A->dev[i].due;
		A->late_n++;
		if (now - A->dev[i].due > A->late_max)
			A->late_max = now - A->dev[i].due;
		pthread_mutex_unlock(&A->mu);
		act_visit(s, i);
		pthread_mutex_lock(&A->mu);
		if (!A->dev[i].visited) {
			A->dev[i].visited = 1;
			/* Every device has polled once: a script may start a rollout now. */
			if (++A->visited == A->ndevices) {
				printf("act warm devices=%lu seconds=%.2f\n", A->visited,
				       fs_now() - s->stats->started);
				fflush(stdout);
			}
		}
		heap_push(A, i);
		pthread_cond_signal(&A->cond);
	}
	pthread_cond_broadcast(&A->cond);
	pthread_mutex_unlock(&A->mu);
	return NULL;
}

int fs_act_begin(struct fs_sim *s)
{
	struct fs_act *A = calloc(1, sizeof(*A));
	pthread_condattr_t ca;
	struct sigaction sa;
	double now = fs_now();

	if (A == NULL || (A->dev = calloc(s->ndev, sizeof(*A->dev))) == NULL ||
	    (A->heap = calloc(s->ndev, sizeof(*A->heap))) == NULL) {
		if (A != NULL)
			free(A->dev);
		free(A);
		return -1;
	}
	pthread_mutex_init(&A->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&A->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->act = A;
	/* First polls spread (deterministically) over --start-spread, as a fleet's are. */
	for (size_t i = 0; i < s->ndev; i++) {
		if (s->dev[i].access_token == NULL)
			continue;
		A->dev[i].due = now + draw(s->seed, i, "first poll") * s->start_spread;
		A->dev[i].next_poll = A->dev[i].due;
		heap_push(A, i);
		A->ndevices++;
	}
	act_stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = act_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &A->old_term);
	sigaction(SIGINT, &sa, &A->old_int);
	return 0;
}

/* "act ..." with the phase's counters, then one "act_deployment ..." per deployment. */
static void act_print(const struct fs_sim *s)
{
	const struct fs_act *A = s->act;

	printf("act devices=%lu polls=%lu polls_new_revision=%lu hinted=%lu clamped=%lu "
	       "interval_min_s=%.1f interval_max_s=%.1f updates=%lu devices_changed=%lu "
	       "installing=%lu installed=%lu failed=%lu removed=%lu last_report_unix=%.3f "
	       "late_mean_s=%.2f late_max_s=%.2f stopped_by=%s\n", A->ndevices, A->polls,
	       A->polls_new, A->hinted, A->clamped, A->interval_min, A->interval_max, A->updates,
	       A->devices_changed, A->installing, A->installed, A->failed, A->removed,
	       A->last_report_unix, A->late_n ? A->late_sum / (double)A->late_n : 0.0,
	       A->late_max, act_stop ? "signal" : "duration");
	for (size_t i = 0; i < A->ncounted; i++)
		printf("act_deployment id=%s devices=%lu installed=%lu failed=%lu removed=%lu "
		       "last_report_unix=%.3f\n", A->counted[i].id, A->counted[i].devices,
		       A->counted[i].installed, A->counted[i].failed, A->counted[i].removed,
		       A->counted[i].last_report_unix);
}

void fs_act_end(struct fs_sim *s)
{
	struct fs_act *A = s->act;

	if (A == NULL)
		return;
	sigaction(SIGTERM, &A->old_term, NULL);
	sigaction(SIGINT, &A->old_int, NULL);
	act_print(s);
	for (size_t i = 0; i < s->ndev; i++) {
		free(A->dev[i].deps);
		free(A->dev[i].owed);
	}
	pthread_cond_destroy(&A->cond);
	pthread_mutex_destroy(&A->mu);
	free(A->heap);
	free(A->dev);
	free(A);
	s->act = NULL;
}
