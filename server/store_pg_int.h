/* Internal to the PostgreSQL backend of store.h (store_pg*.c, compiled only when libpq is
 * found: server/CMakeLists.txt): the connection of each thread, the schema's migrations, and
 * the mapping of every libpq failure to a margo_error. Nothing outside the backend includes
 * this.
 *
 * Every failure is MARGO_ESTORE, which the HTTP layer answers with 503, Retry-After and
 * problem+json "store-unavailable" (server/http.c, http_fail_error). The message says which:
 * "store unavailable" (no connection: PostgreSQL down, unreachable, restarting, out of
 * connections), "store timeout" (statement_timeout cancelled the statement), or "database
 * error" (anything else). A connection found broken is reconnected on the thread's next call,
 * so wfmd recovers by itself when PostgreSQL returns. */
#ifndef WFMD_STORE_PG_INT_H
#define WFMD_STORE_PG_INT_H

#include <pthread.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "margo/error.h"
#include "store_backend.h"

/* statement_timeout of every connection unless the caller asks otherwise (milliseconds). */
#define PG_STATEMENT_TIMEOUT_MS 5000
/* libpq's connect_timeout (seconds, libpq's smallest useful value is 2). */
#define PG_CONNECT_TIMEOUT_S 2
/* How much longer than statement_timeout we wait for an answer before we give the connection
 * up (the server cancels first when it can). */
#define PG_DEADLINE_GRACE_MS 2000
/* A thread whose reconnect failed tries again after this long at the earliest (costs a
 * recovery at most this much). */
#define PG_RECONNECT_MS 100

/* CLOCK_MONOTONIC in milliseconds. */
int64_t pg_monotonic_ms(void);

struct pg_conn;

/* The connections of one store: one per thread that uses it, opened on first use (like the
 * SQLite backend's), so the pool is as large as the HTTP workers plus the rollout engine. */
struct pg_pool {
	char *conninfo;                 /* libpq URL or key=value string; may hold a password */
	int statement_timeout_ms;
	pthread_key_t key;
	pthread_mutex_t lock;           /* guards conns */
	struct pg_conn *conns;
};

/* A connection's prepared statements (store_pg_exec.c): every statement with parameters is
 * parsed and planned once per connection, then only executed. Keyed by the SQL's text (FNV-1a
 * hash, then the text); once PG_STMT_MAX are prepared, further texts run unprepared. */
#define PG_STMT_SLOTS 512
#define PG_STMT_MAX 384

struct pg_stmt {
	uint64_t hash;
	char *sql;              /* NULL: a free slot */
};

struct pg_conn {
	PGconn *db;
	struct pg_stmt *stmts;  /* PG_STMT_SLOTS slots, allocated on first use */
	unsigned nstmts;
	struct pg_pool *pool;
	struct pg_conn *next;
	int tx_depth;           /* pg_tx_begin calls not yet ended (1: a transaction, more:
				 * savepoints in it) */
	int tx_lost;            /* the transaction ended under us (connection lost) */
	int requests_locked;    /* pg_requests_lock is held (until the transaction ends) */
	int64_t retry_at_ms;    /* after a failed reconnect: no new attempt before (monotonic) */
	int deadline_ms;        /* a statement's answer is waited for this long (0: forever) */
	int broken;             /* a statement missed its deadline: nothing more is sent on
				 * this connection until it is reset */
};

/* A pool for conninfo (copied) whose connections run with statement_timeout_ms (0: none).
 * Connects once to check that the server answers (MARGO_ESTORE "store unavailable"
 * otherwise). The error message never contains the conninfo (it may hold a password). */
int pg_pool_new(const char *conninfo, int statement_timeout_ms, struct pg_pool **out,
		struct margo_error *err);
/* Closes every connection and frees the pool. NULL is a no-op. */
void pg_pool_free(struct pg_pool *pool);

/* This thread's connection: opened on first use, reconnected when the last call found it
 * broken. NULL (err set: "store unavailable") when PostgreSQL cannot be reached. */
struct pg_conn *pg_conn_get(struct pg_pool *pool, struct margo_error *err);

/* err set to "store unavailable (what): <libpq's message for db>", logged: MARGO_ESTORE. */
int pg_unavailable(PGconn *db, struct margo_error *err, const char *what);
/* Rolls back the connection's transaction, if it has one and still answers. */
void pg_rollback(struct pg_conn *c);

/* Runs sql with nparams text parameters ($1, $2, ...; NULL is SQL NULL). Returns the result
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller PQclear()s it), or NULL with err set
 * (the failure logged with what, the operation's name). */
PGresult *pg_exec(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
		  struct margo_error *err, const char *what);
/* pg_exec for statements whose result is not needed: 0 or MARGO_ESTORE. */
int pg_exec_cmd(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
		struct margo_error *err, const char *what);
/* Forgets the connection's prepared statements (a new or reset connection has none). */
void pg_stmts_clear(struct pg_conn *c);

/* Runs several ;-separated statements without parameters (a schema step): 0 or
 * MARGO_ESTORE. */
int pg_exec_script(struct pg_conn *c, const char *sql, struct margo_error *err,
		   const char *what);
/* The SQLSTATE of a failed result ("" when none), e.g. "23505" for a unique violation. */
const char *pg_sqlstate(const PGresult *res);

/* store_pg_exec.c runs the statements above, waiting at most c->deadline_ms for each. */

/* ---- the backend (store_pg.c) ---- */

/* store_backend.h's struct store first: a store * is a pointer to it. */
struct pg_store {
	struct store base;
	struct pg_pool *pool;
	struct pg_objcache *objects;    /* Git objects read before (store_pg_objcache.c) */
};

/* ---- the cache of Git objects (store_pg_objcache.c) ---- */

/* Content bytes the cache holds at most: 32 MiB, the objects of thousands of devices'
 * recent commits. */
#define PG_OBJCACHE_BYTES (32u << 20)

struct pg_objcache;
/* A cache of at most max_bytes of content; NULL when out of memory (no cache then). */
struct pg_objcache *pg_objcache_new(size_t max_bytes);
void pg_objcache_free(struct pg_objcache *oc);
/* 1 and a copy (*data malloc'd, NUL-terminated past *len) when oid is cached; else 0. */
int pg_objcache_get(struct pg_objcache *oc, const unsigned char oid[STORE_OID_LEN], int *type,
		    unsigned char **data, size_t *len);
/* Keeps a copy of the object (objects over an eighth of the cache are not kept). */
void pg_objcache_put(struct pg_objcache *oc, const unsigned char oid[STORE_OID_LEN], int type,
		     const unsigned char *data, size_t len);
/* Bytes held, lookups answered from the cache and not. */
void pg_objcache_stats(struct pg_objcache *oc, size_t *bytes, unsigned long *hits,
		       unsigned long *misses);

static inline struct pg_pool *pg_pool_of(struct store *st)
{
	return ((struct pg_store *)st)->pool;
}

int store_pg_open(const char *conninfo, struct store **out, struct margo_error *err);

/* ---- parameters and result rows (store_pg_rows.c) ---- */

/* A page of rows: res holds up to limit + 1 rows (limit 0: no limit); *cnt is how many to
 * keep, *more whether there was one more; returns cnt (at least 1) zeroed items of size
 * bytes, or NULL (err set: out of memory). */
void *pg_page_alloc(const PGresult *res, size_t limit, size_t size, size_t *cnt, int *more,
		    struct margo_error *err);

/* A decimal int64 as a text parameter. */
struct pg_i64 {
	char s[24];
};
struct pg_i64 pg_i64(int64_t v);
/* src (NUL-terminated) into dst, truncated to size - 1 bytes. */
void pg_copy_text(char *dst, size_t size, const char *src);
/* A BIGINT column: -1 for NULL. */
int64_t pg_col_time(const PGresult *res, int row, int col);
int64_t pg_col_i64(const PGresult *res, int row, int col);
/* The rows a command changed (PQcmdTuples). */
long pg_changes(const PGresult *res);
/* pg_exec for a command: *changes the rows it changed. 0 or MARGO_ESTORE. */
int pg_exec_changes(struct pg_conn *c, const char *sql, int nparams,
		    const char *const *params, long *changes, struct margo_error *err,
		    const char *what);
/* This thread's connection with a transaction (or savepoint) begun: NULL with err set. End
 * it with pg_tx_end. */
struct pg_conn *pg_tx_open(store *st, struct margo_error *err);

/* ---- devices (store_pg_devices.c) ---- */

#define PG_DEVICE_COLUMNS "id, state, certificate_fingerprint, keyid, vendor, model_number," \
	" serial_number, created_at, last_seen_at, first_auth_at"
/* Fills d from the PG_DEVICE_COLUMNS of row. */
void pg_device_from_row(const PGresult *res, int row, struct store_device *d);
/* The device's state, its row locked until the transaction ends. MARGO_ENOTFOUND. */
int pg_device_lock(struct pg_conn *c, const char *id, char *state, size_t size,
		   struct margo_error *err);
int pg_device_set_state(struct pg_conn *c, const char *id, const char *state,
			struct margo_error *err);
/* state active, approved now, credentials not used yet. */
int pg_device_activate(struct pg_conn *c, const char *id, int64_t now, struct margo_error *err);
int pg_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		   size_t *n, struct margo_error *err);
int pg_device_get(struct store *st, const char *id, int64_t now, struct store_device *out,
		  struct margo_error *err);
int pg_device_approve(struct store *st, const char *id, int64_t now, struct margo_error *err);
int pg_device_reject(struct store *st, const char *id, int64_t now, struct margo_error *err);
int pg_device_revoke(struct store *st, const char *id, int64_t now, struct margo_error *err);

/* ---- onboarding (store_pg_onboard.c, store_pg_requests.c) ---- */

/* Expires the pending requests past their time, drops or reverts the devices left pending
 * without a request, and forgets old closed requests (sqlite_purge_expired's twin), in the
 * caller's transaction. */
int pg_purge_expired(struct pg_conn *c, int64_t now, struct margo_error *err);
/* The device's pending and approved requests closed. */
int pg_requests_close(struct pg_conn *c, const char *id, struct margo_error *err);
/* Serialises, until the transaction ends, the writers of pending requests (the pending cap,
 * the purge's orphan check) across connections. */
int pg_requests_lock(struct pg_conn *c, struct margo_error *err);
int pg_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
	       struct margo_error *err);
int pg_poll(store *st, const char *request_id, const char *poll_token_hash,
	    const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
	    int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
	    struct margo_error *err);
int pg_enrollment_token_create(store *st, const struct store_enrollment_token *t,
			       const char *token_hash, struct margo_error *err);
int pg_enrollment_token_revoke(store *st, const char *id, struct margo_error *err);
int pg_certificate_add(store *st, const char *fingerprint, const char *pem,
		       const char *description, int64_t now, struct margo_error *err);
int pg_certificate_remove(store *st, const char *fingerprint, struct margo_error *err);

/* ---- credentials (store_pg_credentials.c) ---- */

/* Client secrets deleted, access tokens retired (the epoch moves), git tokens deleted. */
int pg_credentials_revoke(struct pg_conn *c, const char *id, struct margo_error *err);
/* The device's credentials replaced by secret_hash (and git_hash unless NULL). */
int pg_secret_issue(struct pg_conn *c, const char *id, const char *secret_hash,
		    const char *git_hash, int64_t git_expires_at, int64_t now,
		    struct margo_error *err);
/* pg_secret_issue for a device inserted in this transaction: nothing to revoke. */
int pg_secret_issue_new(struct pg_conn *c, const char *id, const char *secret_hash,
			const char *git_hash, int64_t git_expires_at, int64_t now,
			struct margo_error *err);
int pg_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			   int64_t now, int64_t *epoch, struct margo_error *err);
int pg_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		   char rev[STORE_REVISION_LEN], struct margo_error *err);
int pg_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
		    struct margo_error *err);
int pg_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
		       int64_t expires_at, struct margo_error *err);
int pg_git_token_access(store *st, const char *token_hash, int64_t now,
			char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			struct margo_error *err);
int pg_git_token_check(store *st, const char *token_hash, int64_t now,
		       char device_id[MARGO_UUID_LEN], struct margo_error *err);

/* ---- desired state (store_pg_desired.c) ---- */

/* store_desired_commit in the caller's transaction. */
int pg_desired_commit_tx(struct pg_conn *c, const struct store_desired_change *ch,
			 struct margo_error *err);
int pg_desired_commit(store *st, const struct store_desired_change *ch,
		      struct margo_error *err);
int pg_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		  unsigned char **data, size_t *len, struct margo_error *err);
int pg_object_stats(store *st, struct store_object_stats *out, struct margo_error *err);
int pg_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			 struct margo_error *err);

/* ---- device reports and deployments (store_pg_reports.c, store_pg_deployments.c) ---- */

int pg_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			int64_t now, struct margo_error *err);
int pg_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			int64_t *updated_at, struct margo_error *err);
int pg_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
			     const char *state, const char *doc, size_t len, int64_t now,
			     struct margo_error *err);
/* The rows of res (deployment_id, state, received_at, document) as newly allocated
 * deployments (store_deployments_free). */
int pg_deployments_from_result(const PGresult *res, struct store_deployment **items,
			       size_t *n, struct margo_error *err);
int pg_deployment_list(store *st, const char *device_id, struct store_deployment **items,
		       size_t *n, struct margo_error *err);
int pg_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
			     int64_t *seq, struct margo_error *err);
int pg_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
			      char name[STORE_TEXT_MAX], struct margo_error *err);
int pg_deployment_desired_list(store *st, const char *device_id, struct store_desired **items,
			       size_t *n, struct margo_error *err);
int pg_deployment_desired_page(store *st, const char *device_id,
			       const struct store_cursor *after, size_t limit,
			       struct store_desired **items, size_t *n, int *more,
			       struct margo_error *err);

/* ---- rollouts and leases (store_pg_rollouts.c, store_pg_lease.c) ---- */

int pg_rollout_create(store *st, const struct store_rollout *r,
		      char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
		      int64_t now, struct margo_error *err);
int pg_rollout_get(store *st, const char *id, struct store_rollout *out,
		   struct margo_error *err);
int pg_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
		    struct margo_error *err);
int pg_rollout_update(store *st, const char *id, const char *expect_state,
		      const struct store_rollout *r, int64_t now, struct margo_error *err);
int pg_rollout_devices(store *st, const char *rollout_id, const char *deployment_id,
		       long wave, int with_previous, struct store_rollout_device **items,
		       size_t *n, struct margo_error *err);
int pg_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			  const char *state, const char *previous, size_t previous_len,
			  int64_t status_seq, struct margo_error *err);
int pg_lease_take(store *st, const char *name, const char *holder, int64_t now, int64_t ttl,
		  int *held, struct margo_error *err);

/* ---- CA MACs, console, fleet, operators, audit, pages (store_pg_<concern>.c) ---- */

int pg_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err);
int pg_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		  struct margo_error *err);
int pg_session_create(store *st, const char *hash, const struct store_session *s, int64_t now,
		      struct margo_error *err);
int pg_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		   struct margo_error *err);
int pg_session_delete(store *st, const char *hash, struct margo_error *err);
int pg_session_delete_operator(store *st, const char *operator_name, size_t *n,
			       struct margo_error *err);
int pg_summary_get(store *st, int64_t now, struct store_summary *out, struct margo_error *err);
int pg_deployment_history(store *st, const char *device_id, const char *deployment_id,
			  size_t limit, struct store_deployment **items, size_t *n,
			  struct margo_error *err);
int pg_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		  struct margo_error *err);
int pg_labels_update(store *st, const char *device_id, const struct store_label *set,
		     size_t nset, const char *const *remove, size_t nremove,
		     struct margo_error *err);
int pg_fleet_scan(store *st, const char *state, const char *after,
		  int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		  struct margo_error *err);
int pg_fleet_get(store *st, const char *id,
		 int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		 struct margo_error *err);
int pg_operator_add(store *st, const struct store_operator *op, const char *token_hash,
		    struct margo_error *err);
int pg_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			 struct margo_error *err);
int pg_operator_get(store *st, const char *name, struct store_operator *out,
		    struct margo_error *err);
int pg_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err);
int pg_operator_page(store *st, const char *after, size_t limit,
		     struct store_operator **items, size_t *n, int *more,
		     struct margo_error *err);
int pg_audit_add(store *st, const struct store_audit *e, struct margo_error *err);
int pg_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq,
		  size_t limit, struct store_audit **items, size_t *n, int *more,
		  struct margo_error *err);
int pg_device_page(store *st, const struct store_device_filter *f,
		   const struct store_cursor *after, size_t limit, int64_t now,
		   struct store_device **items, size_t *n, int *more, struct margo_error *err);
int pg_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
			     struct store_enrollment_token **items, size_t *n, int *more,
			     struct margo_error *err);
int pg_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			struct store_certificate **items, size_t *n, int *more,
			struct margo_error *err);
int pg_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err);

/* ---- transactions (store_pg_tx.c) ---- */

/* Begins a transaction (READ COMMITTED), or a savepoint inside this connection's open one;
 * every successful pg_tx_begin is paired with one pg_tx_end(c, rc, err), which commits (or
 * releases the savepoint) when rc == 0, else rolls back (to the savepoint), and returns rc,
 * or MARGO_ESTORE when the commit fails or the transaction was lost meanwhile (never
 * reporting a rolled-back transaction as committed). */
int pg_tx_begin(struct pg_conn *c, struct margo_error *err);
int pg_tx_end(struct pg_conn *c, int rc, struct margo_error *err);

/* ---- schema (store_pg_schema.c) ---- */

/* The newest schema step this wfmd knows, and how many steps it has. */
int pg_schema_latest(void);
size_t pg_schema_nsteps(void);
/* Applies the steps not yet recorded in schema_migrations, in one transaction holding
 * pg_advisory_xact_lock (replicas starting together apply each step once: the second waits
 * for the first and then finds them recorded). Refuses (MARGO_ESTORE) a database whose
 * schema is newer than this wfmd's. */
int pg_schema_migrate(struct pg_conn *c, int64_t now, struct margo_error *err);

#endif
