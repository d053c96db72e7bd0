/* fleet-sim: declarations shared by the simulator's files (statistics, HTTP client, phases). */
#ifndef FLEET_SIM_H
#define FLEET_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "margo/cert.h"

#define FS_MAX_KINDS 64
#define FS_MAX_BODY (4 * 1024 * 1024) /* largest response body read */

/* ---- statistics (stats.c) ---- */

/* A growing array of latencies in milliseconds. */
struct fs_lat {
	double *v;
	size_t n, cap;
};

/* Answers of one route with one HTTP status (0: transport or protocol error). */
struct fs_kind {
	const char *route;
	long status;
	unsigned long count;
	struct fs_lat lat;
};

/* Counters of one phase. Safe to record from several threads. A phase counts units: devices
 * (onboard), operations (git) or requests (poll, status); its percentiles are over units. */
struct fs_stats {
	const char *phase;
	const char *unit; /* "devices", "ops" or "requests" */
	pthread_mutex_t lock;
	struct fs_lat lat; /* latency of each successful unit */
	unsigned long units, unit_errors;
	unsigned long requests, errors;
	unsigned long connections; /* new TCP+TLS connections */
	double connect_ms;         /* sum of their set-up times (TCP connect + TLS handshake) */
	struct fs_kind oks[FS_MAX_KINDS], errs[FS_MAX_KINDS];
	size_t noks, nerrs;
	struct fs_kind named[FS_MAX_KINDS]; /* successful units by name (git: by operation) */
	size_t nnamed;
	double started, finished; /* monotonic seconds */
};

double fs_now(void);
int fs_stats_init(struct fs_stats *s, const char *phase, const char *unit);
void fs_stats_free(struct fs_stats *s);
/* Records one HTTP request (or a failed check, status 0) on route: its latency, and an error
 * unless ok. Takes the route string by reference: it must outlive the statistics. */
void fs_stats_request(struct fs_stats *s, const char *route, long status, int ok, double ms);
/* Records a new connection and its set-up time. */
void fs_stats_connection(struct fs_stats *s, double ms);
/* Records one unit (a device onboarded, a git operation, a request) and its latency; name
 * (NULL: none) groups successful units for their own percentiles. */
void fs_stats_unit(struct fs_stats *s, const char *name, int ok, double ms);
/* Prints the phase line (throughput, p50/p90/p99/max, errors), then per route and status the
 * successful answers and the errors. */
void fs_stats_print(struct fs_stats *s);

/* ---- simulated devices and the HTTP client (client.c) ---- */

enum fs_conn_mode {
	FS_CONN_DEVICE,  /* a device keeps its connection for all the requests of a visit */
	FS_CONN_REQUEST, /* every request opens a new connection */
};

struct fs_device {
	EVP_PKEY *key;
	char *cert_b64; /* standard base64 of the certificate PEM */
	char keyid[MARGO_KEYID_LEN];
	char serial[32];
	char *client_id;
	char *client_secret;
	char *access_token;
	char *etag;           /* desired-state ETag, "\"<revision>\"" */
	char *git_username;   /* from the OnboardingResponse */
	char *git_token;
	char git_oid[41];     /* the commit of main this device has fetched, "" before */
	atomic_int busy;      /* a worker is visiting the device */
};

struct fs_sim {
	const char *url;
	X509_STORE *trust; /* the CA of --ca-file, the only trust anchor */
	char *admin_token;
	struct fs_device *dev;
	size_t ndev;
	unsigned concurrency;
	double duration;
	double rate;
	long timeout;
	enum fs_conn_mode conn_mode;
	unsigned polls_per_visit;
	char *enrollment_token;
	/* per-phase run state */
	struct fs_stats *stats;
	atomic_size_t next;   /* next device ticket */
	atomic_size_t paced;  /* next request ticket for --rate */
	double deadline;
};

struct fs_buf {
	char *data;
	size_t len;
};

/* A request to send with fs_request(). */
struct fs_req {
	const char *route;         /* route template for the statistics */
	const char *method;        /* GET or POST */
	const char *path;          /* appended to --url */
	struct curl_slist *hdrs;   /* borrowed */
	const char *body;          /* POST body (NULL: GET) */
	size_t body_len;
	long want, want2;          /* statuses counted as success */
	const char *user, *secret; /* HTTP Basic credentials, or NULL */
	struct fs_buf *resp;       /* gets the body (caller frees data), or NULL */
	char **etag;               /* gets the ETag, or NULL */
};

/* A new libcurl handle (one device's connection) trusting only s->trust; NULL on failure. */
CURL *fs_conn_new(const struct fs_sim *s);
/* Sends r on h and records it. Returns 0 on a wanted status, -1 otherwise; *status_out (may be
 * NULL) gets the status, 0 on a transport error. */
int fs_request(struct fs_sim *s, CURL *h, const struct fs_req *r, long *status_out);
/* With --rate, waits for the turn of ticket, at most until the monotonic time until (0: no
 * limit). Tickets count devices in the onboard phase, requests in the others: a visit takes
 * as many tickets as it makes requests. */
void fs_pace(struct fs_sim *s, size_t ticket, double until);
void fs_buf_free(struct fs_buf *b, int secret);
/* Appends line to *list; on failure frees the list, sets it to NULL and returns -1. */
int fs_header_add(struct curl_slist **list, const char *line);

/* ---- the git phase (git.c) ---- */

/* One device visit: ls-remote, then fetch (a full fetch with pack check the first time, then
 * a no-change fetch), on one connection (per --connections). */
void fs_git_visit(struct fs_sim *s, struct fs_device *d);

/* ---- devices kept between runs (state.c) ---- */

/* Writes the credentials of every onboarded device to path (0600, atomically). */
int fs_state_save(const struct fs_sim *s, const char *path);
/* Allocates s->dev with the devices of path (at most max, 0: all) and sets s->ndev. */
int fs_state_load(struct fs_sim *s, const char *path, size_t max);

#endif
