/* Internal to the SQLite backend of store.h (store_sqlite*.c): the connection per thread,
 * its statement cache and the write lock, and helpers every store_sqlite_<concern>.c uses.
 * Nothing outside the backend includes this. */
#ifndef WFMD_STORE_SQLITE_INT_H
#define WFMD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sqlite3.h>

#include "margo/error.h"
#include "store.h"

/* Statements cached per connection: more than the backend's distinct SQL texts. */
#define STMT_CACHE_MAX 256

struct stmt_slot {
	const char *sql;        /* the static SQL text; its address is the key */
	sqlite3_stmt *stmt;
};

struct conn {
	sqlite3 *db;
	struct store *st;
	struct conn *next;
	size_t nslots;
	struct stmt_slot slots[STMT_CACHE_MAX];
	struct timespec tx_start;       /* when tx_begin asked for the write lock (metrics) */
	int tx_depth;                   /* open tx_begin calls: > 1 are savepoints */
	int tx_lost;                    /* SQLite rolled the transaction back under a savepoint */
};

struct store {
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

/* Logs the connection's error for the operation what and sets err (MARGO_ESTORE). */
int db_fail(sqlite3 *db, struct margo_error *err, const char *what);
/* 0 when device id exists, else MARGO_ENOTFOUND (or MARGO_ESTORE). */
int db_device_exists(struct conn *c, const char *id, struct margo_error *err);
/* This thread's connection, opened on first use. NULL (err set) on failure. */
struct conn *conn_get(struct store *st, struct margo_error *err);
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
 * back to revoked when they had been approved before). Call inside a transaction. */
int store_purge_expired(struct conn *c, int64_t now, struct margo_error *err);

/* store_desired_commit's work inside the caller's transaction (store_sqlite_desired.c). */
struct store_desired_change;
int desired_commit_tx(struct conn *c, const struct store_desired_change *ch,
		      struct margo_error *err);

/* The columns of a device row store_device_from_row reads, in its order. */
#define DEVICE_COLUMNS "id, state, certificate_fingerprint, keyid, vendor, model_number," \
	" serial_number, created_at, last_seen_at, first_auth_at"
void store_device_from_row(sqlite3_stmt *s, struct store_device *d);

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
