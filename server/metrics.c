#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "margo/error.h"
#include "metrics.h"
#include "store.h"
#include "store_page.h"
#include "wfmd.h"

/* Statuses counted one by one; any other counts as "other". */
static const unsigned status_codes[] = {
	200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 415,
	422, 429, 500, 501, 503,
};
#define NSTATUS (sizeof(status_codes) / sizeof(status_codes[0]) + 1)

/* Histogram upper bounds, seconds (the last bucket is +Inf). */
static const double bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct histogram {
	atomic_uint_fast64_t bucket[NBOUNDS + 1];   /* not cumulative; summed when rendered */
	atomic_uint_fast64_t sum_ns;
};

struct route_stats {
	atomic_uint_fast64_t status[NSTATUS];
	struct histogram latency;
};

/* enum store_onboard_result, in order. */
static const char *const onboard_results[] = {
	"approved", "pending", "token-invalid", "rejected", "conflict", "pending-full",
	"unauthorised",
};
#define NONBOARD (sizeof(onboard_results) / sizeof(onboard_results[0]))

static struct {
	const struct http_route *routes;
	size_t nroutes;
	struct route_stats *stats;      /* nroutes + 1: the last for unmatched requests */
	atomic_uint_fast64_t onboarding[NONBOARD];
	struct histogram store_tx;
	time_t start;
} reg;

int metrics_init(const struct http_route *routes, size_t nroutes)
{
	reg.stats = calloc(nroutes + 1, sizeof(*reg.stats));
	if (reg.stats == NULL)
		return MARGO_ENOMEM;
	reg.routes = routes;
	reg.nroutes = nroutes;
	reg.start = time(NULL);
	return 0;
}

void metrics_free(void)
{
	free(reg.stats);
	memset(&reg, 0, sizeof(reg));
}

static void observe(struct histogram *h, double seconds)
{
	size_t i = 0;

	while (i < NBOUNDS && seconds > bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint_fast64_t)(seconds * 1e9),
				  memory_order_relaxed);
}

void metrics_on_completed(void *ctx, const struct http_route *route, unsigned status,
			  double seconds)
{
	struct route_stats *rs;
	size_t s = 0;

	(void)ctx;
	if (reg.stats == NULL)
		return;
	rs = &reg.stats[route != NULL ? (size_t)(route - reg.routes) : reg.nroutes];
	while (s < NSTATUS - 1 && status_codes[s] != status)
		s++;
	atomic_fetch_add_explicit(&rs->status[s], 1, memory_order_relaxed);
	observe(&rs->latency, seconds);
}

void metrics_onboarding(int result)
{
	if (result >= 0 && (size_t)result < NONBOARD)
		atomic_fetch_add_explicit(&reg.onboarding[result], 1, memory_order_relaxed);
}

void metrics_store_tx(double seconds)
{
	observe(&reg.store_tx, seconds);
}

static uint64_t load(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void histogram_render(FILE *f, const char *name, const char *labels,
			     struct histogram *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= NBOUNDS; i++) {
		cum += load(&h->bucket[i]);
		if (i < NBOUNDS)
			fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
				labels[0] ? "," : "", bounds[i], (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
				labels[0] ? "," : "", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum%s%s%s %.9f\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", (double)load(&h->sum_ns) / 1e9);
	fprintf(f, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		labels[0] ? "}" : "", (unsigned long long)cum);
}

/* Requests of route index i (reg.nroutes: unmatched) answered with status code (0: all). */
static uint64_t route_count(size_t i, unsigned code)
{
	uint64_t n = 0;

	for (size_t s = 0; s < NSTATUS; s++)
		if (code == 0 || (s < NSTATUS - 1 && status_codes[s] == code))
			n += load(&reg.stats[i].status[s]);
	return n;
}

/* Requests answered with code by the route method pattern. */
static uint64_t count_of(const char *method, const char *pattern, unsigned code)
{
	for (size_t i = 0; i < reg.nroutes; i++)
		if (strcmp(reg.routes[i].method, method) == 0 &&
		    strcmp(reg.routes[i].pattern, pattern) == 0)
			return route_count(i, code);
	return 0;
}

static void route_label(size_t i, char *buf, size_t size)
{
	if (i == reg.nroutes)
		snprintf(buf, size, "method=\"\",route=\"unmatched\"");
	else
		snprintf(buf, size, "method=\"%s\",route=\"%s\"", reg.routes[i].method,
			 reg.routes[i].pattern);
}

static void requests_render(FILE *f)
{
	char labels[320];

	fputs("# HELP wfmd_http_requests_total HTTP requests answered, by route and status.\n"
	      "# TYPE wfmd_http_requests_total counter\n", f);
	for (size_t i = 0; i <= reg.nroutes; i++) {
		route_label(i, labels, sizeof(labels));
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t n = load(&reg.stats[i].status[s]);
			char code[8];

			if (n == 0)
				continue;
			if (s < NSTATUS - 1)
				snprintf(code, sizeof(code), "%u", status_codes[s]);
			else
				strcpy(code, "other");
			fprintf(f, "wfmd_http_requests_total{%s,status=\"%s\"} %llu\n", labels,
				code, (unsigned long long)n);
		}
	}
	fputs("# HELP wfmd_http_request_duration_seconds Time from a request's first byte to "
	      "its answer queued, by route.\n"
	      "# TYPE wfmd_http_request_duration_seconds histogram\n", f);
	for (size_t i = 0; i <= reg.nroutes; i++) {
		if (route_count(i, 0) == 0)
			continue;
		route_label(i, labels, sizeof(labels));
		histogram_render(f, "wfmd_http_request_duration_seconds", labels,
				 &reg.stats[i].latency);
	}
}

/* Tokens and git operations are counted from the answers of the routes that issue or serve
 * them: no extra work on those paths. */
static void derived_render(FILE *f)
{
	uint64_t onboard = count_of("POST", "/onboarding/", 201) +
		count_of("POST", "/onboarding", 201) +
		count_of("GET", "/onboarding/requests/{requestId}", 200);

	fputs("# HELP wfmd_tokens_issued_total Credentials issued, by type.\n"
	      "# TYPE wfmd_tokens_issued_total counter\n", f);
	fprintf(f, "wfmd_tokens_issued_total{type=\"access\"} %llu\n",
		(unsigned long long)count_of("POST", "/oauth2/token", 200));
	fprintf(f, "wfmd_tokens_issued_total{type=\"client-secret\"} %llu\n",
		(unsigned long long)onboard);
	fprintf(f, "wfmd_tokens_issued_total{type=\"git\"} %llu\n", (unsigned long long)
		(onboard + count_of("POST", "/device/{deviceId}/git-credentials", 200)));
	fprintf(f, "wfmd_tokens_issued_total{type=\"enrollment\"} %llu\n",
		(unsigned long long)count_of("POST", "/admin/v1/enrollment-tokens", 201));
	fprintf(f, "wfmd_tokens_issued_total{type=\"operator\"} %llu\n",
		(unsigned long long)count_of("POST", "/admin/v1/operators", 201));
	fputs("# HELP wfmd_git_operations_total Git smart HTTP requests, by service and outcome.\n"
	      "# TYPE wfmd_git_operations_total counter\n", f);
	for (size_t i = 0; i < reg.nroutes; i++) {
		const char *svc = strrchr(reg.routes[i].pattern, '/') + 1;
		uint64_t all = route_count(i, 0), ok = route_count(i, 200);

		if (strncmp(reg.routes[i].pattern, "/git/", 5) != 0)
			continue;
		fprintf(f, "wfmd_git_operations_total{service=\"%s\",outcome=\"ok\"} %llu\n", svc,
			(unsigned long long)ok);
		fprintf(f, "wfmd_git_operations_total{service=\"%s\",outcome=\"error\"} %llu\n",
			svc, (unsigned long long)(all - ok));
	}
}

static void fleet_render(FILE *f, const int64_t counts[4])
{
	static const char *const states[4] = { "pending", "active", "rejected", "revoked" };

	fputs("# HELP wfmd_devices Devices by state (pending: approval requests).\n"
	      "# TYPE wfmd_devices gauge\n", f);
	for (int i = 0; i < 4; i++)
		fprintf(f, "wfmd_devices{state=\"%s\"} %lld\n", states[i], (long long)counts[i]);
	fputs("# HELP wfmd_onboarding_total Onboarding decisions, by outcome.\n"
	      "# TYPE wfmd_onboarding_total counter\n", f);
	for (size_t i = 0; i < NONBOARD; i++)
		fprintf(f, "wfmd_onboarding_total{outcome=\"%s\"} %llu\n", onboard_results[i],
			(unsigned long long)load(&reg.onboarding[i]));
	fputs("# HELP wfmd_store_transaction_seconds Store write transactions, waiting for the "
	      "write lock included.\n"
	      "# TYPE wfmd_store_transaction_seconds histogram\n", f);
	histogram_render(f, "wfmd_store_transaction_seconds", "", &reg.store_tx);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the directory stream's own */
}

static void process_render(FILE *f)
{
	struct rusage ru;
	struct rlimit rl;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long vsz = 0, rss = 0;
	FILE *statm = fopen("/proc/self/statm", "r");

	if (statm != NULL) {
		if (fscanf(statm, "%llu %llu", &vsz, &rss) != 2)
			vsz = rss = 0;
		fclose(statm);
	}
	getrusage(RUSAGE_SELF, &ru);
	fputs("# HELP process_cpu_seconds_total User and system CPU time.\n"
	      "# TYPE process_cpu_seconds_total counter\n", f);
	fprintf(f, "process_cpu_seconds_total %.3f\n",
		(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	fputs("# HELP process_resident_memory_bytes Resident memory.\n"
	      "# TYPE process_resident_memory_bytes gauge\n", f);
	fprintf(f, "process_resident_memory_bytes %llu\n", rss * (unsigned long long)page);
	fputs("# HELP process_virtual_memory_bytes Virtual memory.\n"
	      "# TYPE process_virtual_memory_bytes gauge\n", f);
	fprintf(f, "process_virtual_memory_bytes %llu\n", vsz * (unsigned long long)page);
	fputs("# HELP process_open_fds Open file descriptors.\n"
	      "# TYPE process_open_fds gauge\n", f);
	fprintf(f, "process_open_fds %d\n", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fprintf(f, "# HELP process_max_fds The file descriptor limit.\n"
			"# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
	fputs("# HELP process_start_time_seconds Start time, seconds since the epoch.\n"
	      "# TYPE process_start_time_seconds gauge\n", f);
	fprintf(f, "process_start_time_seconds %lld\n", (long long)reg.start);
	fputs("# HELP wfmd_build_info The running wfmd.\n# TYPE wfmd_build_info gauge\n", f);
	fprintf(f, "wfmd_build_info{version=\"%s\"} 1\n", MARGO_VERSION);
}

int metrics_render(struct wfmd *w, char **out, size_t *len, struct margo_error *err)
{
	int64_t counts[4];
	FILE *f;
	int rc;

	*out = NULL;
	*len = 0;
	if (reg.stats == NULL)
		return margo_error_set(err, MARGO_ENOTFOUND, "metrics are off (--no-metrics)");
	if ((rc = store_device_count_by_state(w->store, counts, err)) < 0)
		return rc;
	f = open_memstream(out, len);
	if (f == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	requests_render(f);
	derived_render(f);
	fleet_render(f, counts);
	process_render(f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	return 0;
}
