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
	unsigned long retries_connection, retries_503; /* attempts repeated (--retries) */
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
enum fs_retry { FS_RETRY_NONE, FS_RETRY_CONNECTION, FS_RETRY_503 };
/* Records one attempt that failed in a way a device retries (not an error). */
void fs_stats_retry(struct fs_stats *s, enum fs_retry kind);
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
	unsigned retries;         /* attempts after a retryable failure (0: none) */
	enum fs_conn_mode conn_mode;
	unsigned polls_per_visit;
	char *enrollment_token;
	/* act phase options */
	double poll_interval;     /* the device's own interval, used without a hint */
	double poll_min, poll_max; /* bounds of a hinted interval (poll_max 0: poll_interval) */
	double apply_delay;       /* seconds from Installing to Installed/Failed */
	double start_spread;      /* first polls spread over this many seconds */
	double failure_ratio;     /* share of (device, deployment) pairs whose apply fails */
	unsigned long long seed;
	const char *failure_deployment; /* NULL: every deployment may fail */
	struct fs_act *act;       /* the act phase's state */
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
	long *poll_hint;           /* gets Margo-Poll-Interval (0: none or invalid), or NULL */
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
/* Authorization: Bearer with the device's access token, plus extra (may be NULL); NULL when
 * out of memory. The caller frees the list. */
struct curl_slist *fs_bearer_headers(const struct fs_device *d, const char *extra);
/* Appends line to *list; on failure frees the list, sets it to NULL and returns -1. */
int fs_header_add(struct curl_slist **list, const char *line);

/* ---- packfiles, commits and trees (pack.c) ---- */

/* One object of a pack; deltas are resolved in place (type, data and oid then those of the
 * whole object). */
struct fs_pack_obj {
	unsigned type;            /* 1 commit, 2 tree, 3 blob, 4 tag */
	size_t offset;            /* of its header in the pack */
	size_t base_offset;       /* ofs-delta only */
	unsigned char base_oid[20]; /* ref-delta only */
	unsigned char oid[20];
	unsigned char *data;
	size_t len;
};

struct fs_pack {
	struct fs_pack_obj *obj;
	size_t n;
};

/* Parses a version 2 or 3 pack (p, len: with its SHA-1 trailer, which must match): every
 * object inflated and hashed, deltas against objects of the same pack applied. 0 or -1 (bad
 * pack, nothing to free). fs_pack_free() releases a parsed pack. */
int fs_pack_parse(const unsigned char *p, size_t len, struct fs_pack *pk);
void fs_pack_free(struct fs_pack *pk);
/* The object of the pack with that id (40 lower-case hex digits) and type, or NULL. */
const struct fs_pack_obj *fs_pack_find(const struct fs_pack *pk, const char *oid, unsigned type);
/* The tree of a commit object. */
int fs_commit_tree(const struct fs_pack_obj *commit, char tree[41]);
/* Calls fn for each entry of a tree object (mode, name, id); stops at fn's first non-zero
 * return, which it returns; -1 for a malformed tree. */
int fs_tree_each(const struct fs_pack_obj *tree,
		 int (*fn)(void *ctx, const char *mode, const char *name, const char *oid),
		 void *ctx);

/* ---- the git phase (git.c) ---- */

/* One device visit: ls-remote, then fetch (a full fetch with pack check the first time, then
 * a no-change fetch), on one connection (per --connections). */
void fs_git_visit(struct fs_sim *s, struct fs_device *d);
/* A device learning its desired state (act phase), on its connection h: the advertisement,
 * ls-refs, and when main is not the device's commit d->git_oid, command=fetch of it (with
 * "have" d->git_oid when the device has one, as git fetch does). Returns 1 with oid set and
 * *pk parsed (the caller frees it) when main moved, 0 when it did not, -1 on an error
 * (recorded in the statistics). Leaves d->git_oid to the caller. */
int fs_git_fetch(struct fs_sim *s, struct fs_device *d, CURL *h, char oid[41], struct fs_pack *pk);

/* ---- the act phase: devices acting on their desired state (act.c, act_tree.c) ---- */

#define FS_DEPLOYMENT_ID_MAX 128

/* A deployment in a device's current revision: its id and the blob of its YAML. */
struct fs_act_dep {
	char id[FS_DEPLOYMENT_ID_MAX];
	char blob[41];
};

/* A deployment a new revision installs (new or changed) or removes, and the report owed. */
struct fs_act_change {
	char id[FS_DEPLOYMENT_ID_MAX];
	int remove;
	int fail; /* the simulated apply fails (--failure-ratio) */
};

/* One device's desired state and schedule in the act phase. */
struct fs_act_dev {
	double due;       /* monotonic time of its next visit */
	double next_poll; /* monotonic time of its next desired-state poll */
	int visited;      /* made its first visit */
	int changed;      /* got a deployment change in this phase */
	char tree[41];    /* root tree of the commit d->git_oid, "" before */
	char deps_tree[41];
	struct fs_act_dep *deps; /* deployments in that commit */
	size_t ndeps;
	struct fs_act_change *owed; /* changes whose final report (after the apply delay) is due */
	size_t nowed;
};

/* The changes a fetched commit (commit_oid, in pk) brings to device a, in *out (n of them,
 * the caller frees *out); updates a's tree and deployments. NULL, or the name of the failed
 * check (a is then unchanged). */
const char *fs_act_tree_apply(const struct fs_pack *pk, const char *commit_oid,
			      struct fs_act_dev *a, struct fs_act_change **out, size_t *n);
/* The act phase: set-up, the worker, the summary lines and clean-up (act.c). */
int fs_act_begin(struct fs_sim *s);
void *fs_act_worker(void *arg);
void fs_act_end(struct fs_sim *s);
/* POST /device/{id}/deployment/{deploymentId}/status with state (and an error message when
 * not NULL) on h, as margo-agent reports; 0 or -1 (recorded). */
int fs_status_report(struct fs_sim *s, CURL *h, const struct fs_device *d,
		     const char *deployment_id, const char *state, const char *error);

/* ---- devices kept between runs (state.c) ---- */

/* Writes the credentials of every onboarded device to path (0600, atomically). */
int fs_state_save(const struct fs_sim *s, const char *path);
/* Allocates s->dev with the devices of path (at most max, 0: all) and sets s->ndev. */
int fs_state_load(struct fs_sim *s, const char *path, size_t max);

#endif
