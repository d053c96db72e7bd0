/* The WFM's persistent state behind a small interface, one backend per database behind a
 * table of functions (store_backend.h): SQLite, and PostgreSQL when built with libpq.
 * No SQL leaves the store; every function that changes several rows does so in one
 * transaction. Secrets and tokens are passed in and stored only as their SHA-256 hex hashes
 * (margo_token_hash). Times are seconds since the epoch. Thread-safe: each thread uses its own
 * database connection, opened on first use. */
#ifndef WFMD_STORE_H
#define WFMD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "margo/cert.h"
#include "margo/error.h"
#include "margo/token.h"

typedef struct store store;

#define STORE_TEXT_MAX 256      /* description, vendor, model number, serial number */
#define STORE_ID_MAX 129        /* deployment ids: up to 128 characters + NUL */

/* Opens (creating when missing) the SQLite database at path, migrating the schema. */
int store_open(const char *path, store **out, struct margo_error *err);
/* Opens the store url names: PostgreSQL for postgresql://... or postgres://... (libpq's
 * connection URI; MARGO_EUNSUPPORTED when this wfmd was built without it), SQLite at
 * sqlite_path when url is NULL. MARGO_EINVAL for any other scheme, and for a URL that carries
 * a password (it belongs in libpq's password file, never in argv or logs). */
int store_open_url(const char *url, const char *sqlite_path, store **out,
		   struct margo_error *err);
/* What store_open_url checks before connecting: 0 when this wfmd can open url, else
 * MARGO_EINVAL or MARGO_EUNSUPPORTED with err saying why in one line that never repeats what
 * follows the URL's scheme (it may hold a secret). */
int store_url_check(const char *url, struct margo_error *err);
/* Closes every connection. NULL is a no-op. */
void store_close(store *st);

/* Several store calls of this thread as one transaction (holding the store's write lock until
 * store_batch_end): store_batch_end commits them together when rc == 0, else rolls all of
 * them back. Inside a batch each store call's own transaction is a savepoint: a call that
 * fails undoes only its own writes and the batch goes on. Returns rc, or the commit's error.
 * For bulk writers (the rollout engine) that would otherwise commit row by row. */
int store_batch_begin(store *st, struct margo_error *err);
int store_batch_end(store *st, int rc, struct margo_error *err);

/* ---- devices ---- */

struct store_device {
	char id[MARGO_UUID_LEN];
	char state[16];                 /* pending, active, rejected, revoked */
	char fingerprint[MARGO_FINGERPRINT_LEN];
	char keyid[MARGO_KEYID_LEN];
	char vendor[STORE_TEXT_MAX];
	char model_number[STORE_TEXT_MAX];
	char serial_number[STORE_TEXT_MAX];
	int64_t created_at;
	int64_t last_seen_at;           /* -1: never */
	int64_t first_auth_at;          /* -1: credentials not used yet */
	char *certificate_pem;          /* only filled by store_device_get; freed by
					 * store_device_clear */
};

void store_device_clear(struct store_device *d);
void store_devices_free(struct store_device *items, size_t n);

/* All devices, or those in state (NULL for all), oldest first. Expired pending requests are
 * dropped first. *items is newly allocated (store_devices_free). */
int store_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		      size_t *n, struct margo_error *err);
/* One device with its certificate. MARGO_ENOTFOUND. */
int store_device_get(store *st, const char *id, int64_t now, struct store_device *out,
		     struct margo_error *err);
/* pending -> active (the device collects its credentials by polling). MARGO_ENOTFOUND,
 * MARGO_ECONFLICT when not pending. */
int store_device_approve(store *st, const char *id, int64_t now, struct margo_error *err);
/* pending -> rejected. MARGO_ENOTFOUND, MARGO_ECONFLICT when not pending. */
int store_device_reject(store *st, const char *id, int64_t now, struct margo_error *err);
/* Any state -> revoked; deletes every client secret and access token of the device and
 * closes its onboarding requests, in one transaction. MARGO_ENOTFOUND. */
int store_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err);

/* ---- onboarding ---- */

enum store_onboard_result {
	STORE_ONBOARD_APPROVED = 0,     /* device_id set; secret_hash is its only secret now */
	STORE_ONBOARD_PENDING,          /* device_id, request_id set; poll_token_hash stored */
	STORE_ONBOARD_TOKEN_INVALID,    /* unknown, expired, revoked or used-up token */
	STORE_ONBOARD_REJECTED,         /* the certificate was rejected by the operator */
	STORE_ONBOARD_CONFLICT,         /* known device whose credentials were used, and no
					 * fresh authorisation */
	STORE_ONBOARD_PENDING_FULL,     /* too many pending requests; retry_after set */
	STORE_ONBOARD_UNAUTHORISED,     /* no authorisation and approval requests disabled */
};

struct store_desired_change;

struct store_onboard_in {
	const char *fingerprint;
	const char *keyid;
	const char *certificate_pem;
	const char *vendor;             /* may be NULL */
	const char *model_number;
	const char *serial_number;
	const char *enrollment_token_hash; /* NULL: no token presented */
	int allow_approval_requests;
	long pending_max;
	int64_t pending_ttl;
	int64_t now;
	const char *new_device_id;      /* used when the certificate is new */
	const char *new_request_id;     /* used when a new pending request is made */
	const char *secret_hash;        /* stored when approved */
	const char *git_token_hash;     /* stored when approved (NULL: none) */
	int64_t git_token_expires_at;
	const char *poll_token_hash;    /* stored when pending */
	/* The new device's first commit (desired_initial_new for new_device_id), written in the
	 * same transaction when a new device is approved; NULL: none (desired_repo_ensure later). */
	const struct store_desired_change *repo;
};

struct store_onboard_out {
	enum store_onboard_result result;
	char device_id[MARGO_UUID_LEN];
	char request_id[MARGO_UUID_LEN];
	int64_t retry_after;            /* PENDING_FULL: seconds until a slot frees */
	const char *reason;             /* static: how the result was reached, for the log */
};

/* Decides an onboarding request (API.md section 2, authorisation order and the
 * lost-response/re-onboarding rules) and records the outcome, atomically. Returns 0 with
 * out->result set, or an error (MARGO_ESTORE) when the database failed. */
int store_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		  struct margo_error *err);

enum store_poll_result {
	STORE_POLL_PENDING = 0,
	STORE_POLL_APPROVED,            /* device_id set; secret_hash is its only secret now */
	STORE_POLL_REJECTED,
	STORE_POLL_GONE,                /* expired, completed or revoked */
	STORE_POLL_UNKNOWN,
	STORE_POLL_BAD_TOKEN,
};

/* One poll of an onboarding request; when approved, secret_hash (and git_token_hash when
 * not NULL) become the device's credentials. */
int store_poll(store *st, const char *request_id, const char *poll_token_hash,
	       const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
	       int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
	       struct margo_error *err);

/* ---- OAuth and device access ---- */

/* Checks client_id/secret (active device only): 0 with *epoch the device's credentials epoch
 * (to bind into the access token; see access_token.h), recording the first use of the
 * credentials; MARGO_EAUTH when the client is unknown, the secret wrong or the device not
 * active. A read, except for the first use of new credentials. */
int store_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			      int64_t now, int64_t *epoch, struct margo_error *err);

/* Checks the store's side of an access token whose MAC and expiry were verified: the device
 * must be active and its credentials epoch still the token's. 0, or MARGO_EAUTH with err
 * saying why. Records last_seen_at (at most one write per device every 30 s). */
int store_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
		       struct margo_error *err);
/* A revision as text: 40 hex digits (SHA-1) or 64 (SHA-256), and the NUL. */
#define STORE_REVISION_LEN 65

/* store_access_check, then (on success) the revision main points to in the device's
 * repository, "" when it has none yet: a desired-state poll's two reads, which a remote
 * store answers in one round trip. */
int store_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		      char rev[STORE_REVISION_LEN], struct margo_error *err);

/* Replaces the device's capabilities document (stored verbatim). */
int store_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			   int64_t now, struct margo_error *err);
/* The stored document, newly allocated (caller frees). MARGO_ENOTFOUND. */
int store_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			   int64_t *updated_at, struct margo_error *err);

/* Appends a deployment status report (the latest per deployment is the current one; the
 * last STORE_STATUS_HISTORY reports per deployment are kept). */
#define STORE_STATUS_HISTORY 100
int store_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
				const char *state, const char *doc, size_t len, int64_t now,
				struct margo_error *err);

struct store_deployment {
	char deployment_id[STORE_ID_MAX];
	char state[16];
	int64_t received_at;
	char *document;                 /* latest status document */
};
/* Latest status of each deployment of the device. *items newly allocated
 * (store_deployments_free). */
int store_deployment_list(store *st, const char *device_id, struct store_deployment **items,
			  size_t *n, struct margo_error *err);
void store_deployments_free(struct store_deployment *items, size_t n);

/* ---- enrollment tokens ---- */

struct store_enrollment_token {
	char id[MARGO_UUID_LEN];
	char description[STORE_TEXT_MAX];
	int64_t created_at;
	int64_t expires_at;
	long max_uses;
	long uses;
	int auto_approve;
	int revoked;
};

int store_enrollment_token_create(store *st, const struct store_enrollment_token *t,
				  const char *token_hash, struct margo_error *err);
/* Listing: store_enrollment_token_page (store_page.h). */
/* MARGO_ENOTFOUND. Revoking twice is fine. */
int store_enrollment_token_revoke(store *st, const char *id, struct margo_error *err);

/* ---- pre-registered certificates ---- */

struct store_certificate {
	char fingerprint[MARGO_FINGERPRINT_LEN];
	char description[STORE_TEXT_MAX];
	int64_t created_at;
};

/* MARGO_EEXIST when the fingerprint is already registered. */
int store_certificate_add(store *st, const char *fingerprint, const char *pem,
			  const char *description, int64_t now, struct margo_error *err);
/* Listing: store_certificate_page (store_page.h). */
/* MARGO_ENOTFOUND. */
int store_certificate_remove(store *st, const char *fingerprint, struct margo_error *err);

/* ---- git tokens, repositories, desired deployments ---- */

/* Live git tokens kept per device (API.md section 5); issuing one more drops the oldest. */
#define STORE_GIT_TOKENS_MAX 3

/* Adds a git token for an active device (MARGO_EAUTH otherwise, MARGO_ENOTFOUND). */
int store_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
			  int64_t expires_at, struct margo_error *err);
/* 0 and device_id for a live git token of an active device; MARGO_EAUTH otherwise. */
int store_git_token_check(store *st, const char *token_hash, int64_t now,
			  char device_id[MARGO_UUID_LEN], struct margo_error *err);
/* store_git_token_check, then (on success) the revision main points to in device_id's
 * repository, "" when it has none yet: what a Git request reads first, in one round trip
 * to a remote store. */
int store_git_token_access(store *st, const char *token_hash, int64_t now,
			   char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			   struct margo_error *err);

/* The commit id of the device repository's main branch, which is the desired-state
 * revision (MARGO_ENOTFOUND when the repository does not exist yet). It moves only with
 * store_desired_commit (store_desired.h). */
int store_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			    struct margo_error *err);

/* A deployment the operator put in the device's repository, with its latest reported
 * status. */
struct store_desired {
	char deployment_id[STORE_ID_MAX];
	char name[STORE_TEXT_MAX];
	char application_id[STORE_TEXT_MAX];
	int64_t created_at;             /* first deployed: the list's order, with the id */
	int64_t updated_at;
	char state[16];                 /* "" until reported */
	int64_t received_at;            /* -1 until reported */
	char *status_document;          /* NULL until reported */
};

/* MARGO_ENOTFOUND; name gets metadata.name. */
int store_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
				 char name[STORE_TEXT_MAX], struct margo_error *err);
/* (Rows are put and removed with their commit: store_desired_commit.) */
/* Oldest first, all of them (a page: store_deployment_desired_page, store_page.h); *items
 * newly allocated (store_desired_free). */
int store_deployment_desired_list(store *st, const char *device_id,
				  struct store_desired **items, size_t *n,
				  struct margo_error *err);
void store_desired_free(struct store_desired *items, size_t n);

#endif
