/* fleet-sim: per-phase throughput, latency and error statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet-sim.h"

double fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fs_stats_init(struct fs_stats *s, const char *phase, const char *unit)
{
	memset(s, 0, sizeof(*s));
	s->phase = phase;
	s->unit = unit;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		return -1;
	s->started = fs_now();
	return 0;
}

void fs_stats_free(struct fs_stats *s)
{
	if (s == NULL)
		return;
	free(s->lat.v);
	for (size_t i = 0; i < s->noks; i++)
		free(s->oks[i].lat.v);
	for (size_t i = 0; i < s->nerrs; i++)
		free(s->errs[i].lat.v);
	for (size_t i = 0; i < s->nnamed; i++)
		free(s->named[i].lat.v);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

/* Appends ms; a failed allocation drops the sample (counts stay exact). */
static void lat_push(struct fs_lat *l, double ms)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		double *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL)
			return;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = ms;
}

static struct fs_kind *kind_get(struct fs_kind *k, size_t *n, const char *route, long status)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (k[i].status == status && strcmp(k[i].route, route) == 0)
			return &k[i];
	if (*n == FS_MAX_KINDS)
		return NULL;
	k[i] = (struct fs_kind){ .route = route, .status = status };
	(*n)++;
	return &k[i];
}

void fs_stats_request(struct fs_stats *s, const char *route, long status, int ok, double ms)
{
	struct fs_kind *k;

	pthread_mutex_lock(&s->lock);
	s->requests++;
	if (!ok)
		s->errors++;
	k = ok ? kind_get(s->oks, &s->noks, route, status) :
		 kind_get(s->errs, &s->nerrs, route, status);
	if (k != NULL) {
		k->count++;
		lat_push(&k->lat, ms);
	}
	pthread_mutex_unlock(&s->lock);
}

void fs_stats_connection(struct fs_stats *s, double ms)
{
	pthread_mutex_lock(&s->lock);
	s->connections++;
	s->connect_ms += ms;
	pthread_mutex_unlock(&s->lock);
}

void fs_stats_unit(struct fs_stats *s, const char *name, int ok, double ms)
{
	struct fs_kind *k;

	pthread_mutex_lock(&s->lock);
	if (ok) {
		s->units++;
		lat_push(&s->lat, ms);
		k = name != NULL ? kind_get(s->named, &s->nnamed, name, 0) : NULL;
		if (k != NULL) {
			k->count++;
			lat_push(&k->lat, ms);
		}
	} else {
		s->unit_errors++;
	}
	pthread_mutex_unlock(&s->lock);
}

void fs_stats_retry(struct fs_stats *s, enum fs_retry kind)
{
	pthread_mutex_lock(&s->lock);
	if (kind == FS_RETRY_503)
		s->retries_503++;
	else
		s->retries_connection++;
	pthread_mutex_unlock(&s->lock);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of the sorted l (nearest rank). */
static double pct(const struct fs_lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	return l->v[i > 0 ? (i <= l->n ? i - 1 : l->n - 1) : 0];
}

static void print_kind(const char *what, const char *phase, struct fs_kind *k)
{
	qsort(k->lat.v, k->lat.n, sizeof(double), cmp_double);
	if (strcmp(what, "unit") == 0)
		printf("  %s phase=%s name=%s", what, phase, k->route);
	else
		printf("  %s phase=%s status=%ld route=%s", what, phase, k->status, k->route);
	printf(" count=%lu p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", k->count,
	       pct(&k->lat, 50), pct(&k->lat, 90), pct(&k->lat, 99),
	       k->lat.n ? k->lat.v[k->lat.n - 1] : 0.0);
}

void fs_stats_print(struct fs_stats *s)
{
	double secs = s->finished - s->started;

	if (secs <= 0)
		secs = 1e-9;
	qsort(s->lat.v, s->lat.n, sizeof(double), cmp_double);
	/* One line, key=value: bench/fleet-sim.sh parses it. */
	printf("phase=%s", s->phase);
	if (strcmp(s->unit, "requests") != 0)
		printf(" %s=%lu %s_per_s=%.1f", s->unit, s->units, s->unit, (double)s->units / secs);
	printf(" errors=%lu seconds=%.2f requests=%lu req_per_s=%.1f request_errors=%lu "
	       "connections=%lu connect_mean_ms=%.2f latency_of=%s p50_ms=%.2f p90_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f retries_connection=%lu retries_503=%lu\n", s->unit_errors,
	       secs, s->requests,
	       (double)s->requests / secs, s->errors, s->connections,
	       s->connections ? s->connect_ms / (double)s->connections : 0.0, s->unit,
	       pct(&s->lat, 50), pct(&s->lat, 90), pct(&s->lat, 99),
	       s->lat.n ? s->lat.v[s->lat.n - 1] : 0.0, s->retries_connection, s->retries_503);
	for (size_t i = 0; i < s->nnamed; i++)
		print_kind("unit", s->phase, &s->named[i]);
	for (size_t i = 0; i < s->noks; i++)
		print_kind("ok", s->phase, &s->oks[i]);
	for (size_t i = 0; i < s->nerrs; i++)
		print_kind("error", s->phase, &s->errs[i]);
	fflush(stdout);
}
