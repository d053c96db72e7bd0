/* Internal to the SQLite backend of store.h (store_sqlite*.c): the backend's struct, the
 * functions of its table (sqlite_ops, store_sqlite.c), the connection per thread with its
 * statement cache and the write lock (store_sqlite_conn.c), and helpers every
 * store_sqlite_<concern>.c uses. Nothing outside the backend includes this. */
#ifndef WFMD_STORE_SQLITE_INT_H
#define WFMD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sqlite3.h>

#include "margo/error.h"
#include "store_backend.h"

/* Statements cached per connection: more than the backend's distinct SQL texts. */
#define STMT_CACHE_MAX 256

struct stmt_slot {
	const char *sql;        /* the static SQL text; its address is the key */
	sqlite3_stmt *stmt;
};

struct conn {
	sqlite3 *db;
	struct sqlite_store *st;
	struct conn *next;
	size_t nslots;
	struct stmt_slot slots[STMT_CACHE_MAX];
	struct timespec tx_start;       /* when tx_begin asked for the write lock (metrics) */
	int tx_depth;                   /* open tx_begin calls: > 1 are savepoints */
	int tx_lost;                    /* SQLite rolled the transaction back under a savepoint */
};

struct sqlite_store {
	struct store base;      /* first: a store * points here */
	char *path;
	pthread_key_t key;
	pthread_mutex_t lock;   /* guards conns */
	/* Serialises this process's writers. SQLite allows one writer at a time; without this,
	 * concurrent writers meet SQLITE_BUSY and its busy handler sleeps (1 ms, 2 ms, ... 100 ms)
	 * while the CPU idles. Taken by tx_begin until tx_end, and around single-statement
	 * writes outside a transaction. Another process writing still gets the busy timeout. */
	pthread_mutex_t write_lock;
	struct conn *conns;
};

/* Sets up st's connection registry (pthread key, locks); conns_free closes every
 * connection still open and tears the registry down. */
int conns_init(struct sqlite_store *st, struct margo_error *err);
void conns_free(struct sqlite_store *st);
/* Logs the connection's error for the operation what and sets err (MARGO_ESTORE). */
int db_fail(sqlite3 *db, struct margo_error *err, const char *what);
/* 0 when device id exists, else MARGO_ENOTFOUND (or MARGO_ESTORE). */
int db_device_exists(struct conn *c, const char *id, struct margo_error *err);
/* This thread's connection to the SQLite store st, opened on first use. NULL (err set) on
 * failure. */
struct conn *conn_get(store *st, struct margo_error *err);
/* The cached statement for sql (a static string: its address is the key), reset and
 * unbound. NULL (err set) on failure. */
sqlite3_stmt *stmt_get(struct conn *c, const char *sql, struct margo_error *err);
/* Bind by parameter name; SQLITE_OK or an SQLite error code. NULL text binds NULL. */
int bind_text(sqlite3_stmt *s, const char *name, const char *v);
int bind_blob_text(sqlite3_stmt *s, const char *name, const char *v, size_t len);
int bind_int(sqlite3_stmt *s, const char *name, int64_t v);
/* Steps a statement that returns no rows. 0 or MARGO_ESTORE. A write outside a transaction
 * takes the store's write lock for its implicit transaction. */
int exec_stmt(struct conn *c, sqlite3_stmt *s, struct margo_error *err);
/* Column i as text ("" for NULL). */
const char *col_text(sqlite3_stmt *s, int i);
/* Copies src into dst (size bytes), cut to fit. */
void copy_text(char *dst, size_t size, const char *src);
/* Column i as a time, -1 for NULL. */
int64_t col_time(sqlite3_stmt *s, int i);
/* Begins a write transaction holding the store's write lock; every successful tx_begin is
 * paired with one tx_end(c, rc, err), which commits when rc == 0 (else rolls back), releases
 * the lock and returns rc (MARGO_ESTORE when the commit fails). */
int tx_begin(struct conn *c, struct margo_error *err);
int tx_end(struct conn *c, int rc, struct margo_error *err);

/* Expires pending requests past their lifetime; the devices they created disappear (or go
 * back to revoked when they had been approved before). Call inside a transaction
 * (store_sqlite_requests.c). */
int sqlite_purge_expired(struct conn *c, int64_t now, struct margo_error *err);
/* Closes the pending and approved onboarding requests of device id. */
int sqlite_requests_close(struct conn *c, const char *id, struct margo_error *err);

/* The device's state into buf; MARGO_ENOTFOUND (store_sqlite_devices.c). */
int sqlite_device_state(struct conn *c, const char *id, char *buf, size_t size,
			struct margo_error *err);
int sqlite_device_set_state(struct conn *c, const char *id, const char *state,
			    struct margo_error *err);
/* Makes device id active as approved at now, its credentials not used yet. */
int sqlite_device_activate(struct conn *c, const char *id, int64_t now,
			   struct margo_error *err);

/* Deletes every client secret and git token of device id and retires its access tokens
 * (store_sqlite_credentials.c). */
int sqlite_credentials_revoke(struct conn *c, const char *id, struct margo_error *err);
/* Replaces every credential of device id with the one secret secret_hash (and the git token
 * git_hash when not NULL). */
int sqlite_secret_issue(struct conn *c, const char *id, const char *secret_hash,
			const char *git_hash, int64_t git_expires_at, int64_t now,
			struct margo_error *err);

/* store_desired_commit's work inside the caller's transaction (store_sqlite_desired.c). */
struct store_desired_change;
int desired_commit_tx(struct conn *c, const struct store_desired_change *ch,
		      struct margo_error *err);

/* The columns of a device row sqlite_device_from_row reads, in its order. */
#define DEVICE_COLUMNS "id, state, certificate_fingerprint, keyid, vendor, model_number," \
	" serial_number, created_at, last_seen_at, first_auth_at"
void sqlite_device_from_row(sqlite3_stmt *s, struct store_device *d);

/* The functions of sqlite_ops: the store_* function of the same name without its prefix,
 * on SQLite (store_sqlite_<concern>.c). */
void sqlite_close(store *st);
int sqlite_batch_begin(store *st, struct margo_error *err);
int sqlite_batch_end(store *st, int rc, struct margo_error *err);
/* store.h */
int sqlite_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		       size_t *n, struct margo_error *err);
int sqlite_device_get(store *st, const char *id, int64_t now, struct store_device *out,
		      struct margo_error *err);
int sqlite_device_approve(store *st, const char *id, int64_t now, struct margo_error *err);
int sqlite_device_reject(store *st, const char *id, int64_t now, struct margo_error *err);
int sqlite_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err);
int sqlite_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		   struct margo_error *err);
int sqlite_poll(store *st, const char *request_id, const char *poll_token_hash,
		const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
		int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
		struct margo_error *err);
int sqlite_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			       int64_t now, int64_t *epoch, struct margo_error *err);
int sqlite_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		       char rev[STORE_REVISION_LEN], struct margo_error *err);
int sqlite_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
			struct margo_error *err);
int sqlite_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			    int64_t now, struct margo_error *err);
int sqlite_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			    int64_t *updated_at, struct margo_error *err);
int sqlite_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
				 const char *state, const char *doc, size_t len, int64_t now,
				 struct margo_error *err);
int sqlite_deployment_list(store *st, const char *device_id, struct store_deployment **items,
			   size_t *n, struct margo_error *err);
int sqlite_enrollment_token_create(store *st, const struct store_enrollment_token *t,
				   const char *token_hash, struct margo_error *err);
int sqlite_enrollment_token_revoke(store *st, const char *id, struct margo_error *err);
int sqlite_certificate_add(store *st, const char *fingerprint, const char *pem,
			   const char *description, int64_t now, struct margo_error *err);
int sqlite_certificate_remove(store *st, const char *fingerprint, struct margo_error *err);
int sqlite_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
			   int64_t expires_at, struct margo_error *err);
int sqlite_git_token_access(store *st, const char *token_hash, int64_t now,
			    char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			    struct margo_error *err);
int sqlite_git_token_check(store *st, const char *token_hash, int64_t now,
			   char device_id[MARGO_UUID_LEN], struct margo_error *err);
int sqlite_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			     struct margo_error *err);
int sqlite_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
				  char name[STORE_TEXT_MAX], struct margo_error *err);
int sqlite_deployment_desired_list(store *st, const char *device_id, struct store_desired **items,
				   size_t *n, struct margo_error *err);
/* store_camac.h */
int sqlite_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err);
int sqlite_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		      struct margo_error *err);
/* store_console.h */
int sqlite_session_create(store *st, const char *hash, const struct store_session *s, int64_t now,
			  struct margo_error *err);
int sqlite_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		       struct margo_error *err);
int sqlite_session_delete(store *st, const char *hash, struct margo_error *err);
int sqlite_session_delete_operator(store *st, const char *operator_name, size_t *n,
				   struct margo_error *err);
int sqlite_summary_get(store *st, int64_t now, struct store_summary *out, struct margo_error *err);
int sqlite_deployment_history(store *st, const char *device_id, const char *deployment_id,
			      size_t limit, struct store_deployment **items, size_t *n,
			      struct margo_error *err);
/* store_desired.h */
int sqlite_desired_commit(store *st, const struct store_desired_change *change,
			  struct margo_error *err);
int sqlite_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		      unsigned char **data, size_t *len, struct margo_error *err);
int sqlite_object_stats(store *st, struct store_object_stats *out, struct margo_error *err);
/* store_fleet.h */
int sqlite_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		      struct margo_error *err);
int sqlite_labels_update(store *st, const char *device_id, const struct store_label *set,
			 size_t nset, const char *const *remove, size_t nremove,
			 struct margo_error *err);
int sqlite_fleet_scan(store *st, const char *state, const char *after,
		      int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		      struct margo_error *err);
int sqlite_fleet_get(store *st, const char *id,
		     int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		     struct margo_error *err);
/* store_operator.h */
int sqlite_operator_add(store *st, const struct store_operator *op, const char *token_hash,
			struct margo_error *err);
int sqlite_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			     struct margo_error *err);
int sqlite_operator_get(store *st, const char *name, struct store_operator *out,
			struct margo_error *err);
int sqlite_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err);
int sqlite_operator_page(store *st, const char *after, size_t limit, struct store_operator **items,
			 size_t *n, int *more, struct margo_error *err);
int sqlite_audit_add(store *st, const struct store_audit *e, struct margo_error *err);
int sqlite_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq,
		      size_t limit, struct store_audit **items, size_t *n, int *more,
		      struct margo_error *err);
/* store_page.h */
int sqlite_device_page(store *st, const struct store_device_filter *f,
		       const struct store_cursor *after, size_t limit, int64_t now,
		       struct store_device **items, size_t *n, int *more, struct margo_error *err);
int sqlite_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
				 struct store_enrollment_token **items, size_t *n, int *more,
				 struct margo_error *err);
int sqlite_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			    struct store_certificate **items, size_t *n, int *more,
			    struct margo_error *err);
int sqlite_deployment_desired_page(store *st, const char *device_id,
				   const struct store_cursor *after, size_t limit,
				   struct store_desired **items, size_t *n, int *more,
				   struct margo_error *err);
int sqlite_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err);
int sqlite_ping(store *st, struct margo_error *err);
/* store_rollout.h */
int sqlite_rollout_create(store *st, const struct store_rollout *r,
			  char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
			  int64_t now, struct margo_error *err);
int sqlite_rollout_get(store *st, const char *id, struct store_rollout *out,
		       struct margo_error *err);
int sqlite_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
			struct margo_error *err);
int sqlite_rollout_update(store *st, const char *id, const char *expect_state,
			  const struct store_rollout *r, int64_t now, struct margo_error *err);
int sqlite_rollout_devices(store *st, const char *rollout_id, const char *deployment_id, long wave,
			   int with_previous, struct store_rollout_device **items, size_t *n,
			   struct margo_error *err);
int sqlite_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			      const char *state, const char *previous, size_t previous_len,
			      int64_t status_seq, struct margo_error *err);
int sqlite_lease_take(store *st, const char *name, const char *holder, int64_t now,
		      int64_t ttl, int *held, struct margo_error *err);
int sqlite_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
				 int64_t *seq, struct margo_error *err);

/* Shorthands for the store functions: they expect `struct conn *c` and `struct margo_error
 * *err` in scope and jump to `out` with rc set. */
#define PREPARE(s, sql) do { \
	(s) = stmt_get(c, (sql), err); \
	if ((s) == NULL) { rc = MARGO_ESTORE; goto out; } \
} while (0)
#define BIND(call) do { \
	if ((call) != SQLITE_OK) { rc = db_fail(c->db, err, "bind"); goto out; } \
} while (0)
#define EXEC(s) do { \
	if ((rc = exec_stmt(c, (s), err)) < 0) goto out; \
} while (0)
/* Room for one more row in the array v (cnt used, cap allocated, doubling from first). */
#define ROW_RESERVE(v, cnt, cap, first) do { \
	if ((cnt) == (cap)) { \
		size_t ncap_ = (cap) ? (cap) * 2 : (first); \
		void *nv_ = realloc((v), ncap_ * sizeof(*(v))); \
		if (nv_ == NULL) { \
			sqlite3_reset(s); \
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory"); \
			goto out; \
		} \
		(v) = nv_; \
		(cap) = ncap_; \
	} \
} while (0)
/* After a row loop: resets s and fails as what unless the last step gave SQLITE_DONE. */
#define ROWS_DONE(what) do { \
	sqlite3_reset(s); \
	if (rc != SQLITE_DONE) { rc = db_fail(c->db, err, (what)); goto out; } \
	rc = 0; \
} while (0)

#endif
