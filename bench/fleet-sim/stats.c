/* fleet-sim: per-phase latency and error statistics. */
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

int fs_stats_init(struct fs_stats *s, const char *phase)
{
	memset(s, 0, sizeof(*s));
	s->phase = phase;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		return -1;
	s->started = fs_now();
	return 0;
}

void fs_stats_free(struct fs_stats *s)
{
	if (s == NULL)
		return;
	free(s->lat_ms);
	s->lat_ms = NULL;
	pthread_mutex_destroy(&s->lock);
}

void fs_stats_record(struct fs_stats *s, const char *route, long status, int ok, double ms)
{
	pthread_mutex_lock(&s->lock);
	s->requests++;
	if (s->nlat == s->caplat) {
		size_t cap = s->caplat ? s->caplat * 2 : 4096;
		double *p = realloc(s->lat_ms, cap * sizeof(*p));

		if (p != NULL) {
			s->lat_ms = p;
			s->caplat = cap;
		}
	}
	if (s->nlat < s->caplat)
		s->lat_ms[s->nlat++] = ms;
	if (ok) {
		size_t i;

		for (i = 0; i < s->noks; i++)
			if (s->oks[i].status == status && strcmp(s->oks[i].route, route) == 0)
				break;
		if (i == s->noks && s->noks < FS_MAX_ERRKINDS) {
			s->oks[i] = (struct fs_errkind){ route, status, 0, 0 };
			s->noks++;
		}
		if (i < s->noks) {
			s->oks[i].count++;
			s->oks[i].sum_ms += ms;
		}
	} else {
		size_t i;

		s->errors++;
		for (i = 0; i < s->nkinds; i++)
			if (s->kinds[i].status == status && strcmp(s->kinds[i].route, route) == 0)
				break;
		if (i == s->nkinds && s->nkinds < FS_MAX_ERRKINDS) {
			s->kinds[i] = (struct fs_errkind){ route, status, 0, 0 };
			s->nkinds++;
		}
		if (i < s->nkinds)
			s->kinds[i].count++;
	}
	pthread_mutex_unlock(&s->lock);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)n);
	return v[i < n ? i : n - 1];
}

void fs_stats_print(struct fs_stats *s)
{
	double secs = s->finished - s->started;

	if (secs <= 0)
		secs = 1e-9;
	qsort(s->lat_ms, s->nlat, sizeof(double), cmp_double);
	printf("phase=%s requests=%lu errors=%lu seconds=%.2f req_per_s=%.1f", s->phase,
	       s->requests, s->errors, secs, (double)s->requests / secs);
	if (s->units > 0)
		printf(" devices=%lu devices_per_s=%.1f", s->units, (double)s->units / secs);
	printf(" p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", pct(s->lat_ms, s->nlat, 50),
	       pct(s->lat_ms, s->nlat, 90), pct(s->lat_ms, s->nlat, 99),
	       s->nlat ? s->lat_ms[s->nlat - 1] : 0.0);
	for (size_t i = 0; i < s->noks; i++)
		printf("  ok phase=%s status=%ld route=%s count=%lu mean_ms=%.2f\n", s->phase,
		       s->oks[i].status, s->oks[i].route, s->oks[i].count,
		       s->oks[i].sum_ms / (double)s->oks[i].count);
	for (size_t i = 0; i < s->nkinds; i++)
		printf("  error phase=%s status=%ld route=%s count=%lu\n", s->phase,
		       s->kinds[i].status, s->kinds[i].route, s->kinds[i].count);
	fflush(stdout);
}
