/* fleet-sim: shared declarations (phase statistics). */
#ifndef FLEET_SIM_H
#define FLEET_SIM_H

#include <pthread.h>
#include <stddef.h>

#define FS_MAX_ERRKINDS 64

/* One kind of failure: a route template and an HTTP status (0: transport error). */
struct fs_errkind {
	const char *route;
	long status;
	unsigned long count;
	double sum_ms;
};

/* Latencies and errors of one phase. Safe to record from several threads. */
struct fs_stats {
	const char *phase;
	pthread_mutex_t lock;
	double *lat_ms;
	size_t nlat, caplat;
	unsigned long requests, errors;
	struct fs_errkind kinds[FS_MAX_ERRKINDS];
	size_t nkinds;
	struct fs_errkind oks[FS_MAX_ERRKINDS]; /* successful answers by status */
	size_t noks;
	double started, finished; /* monotonic seconds */
	unsigned long units;      /* devices onboarded, for the onboard phase */
};

double fs_now(void);
int fs_stats_init(struct fs_stats *s, const char *phase);
void fs_stats_free(struct fs_stats *s);
/* Records one request: its latency and, unless ok, an error of status on route. */
void fs_stats_record(struct fs_stats *s, const char *route, long status, int ok, double ms);
/* Prints throughput, p50/p90/p99/max and the errors by status and route. */
void fs_stats_print(struct fs_stats *s);

#endif
