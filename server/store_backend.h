/* The store's backends (store.h is what the handlers call): each backend fills one table of
 * functions, struct store_ops, and every store_* function of store.h and the headers it
 * continues (store_camac.h ... store_rollout.h) dispatches through it (store.c). The way
 * curl keeps its TLS libraries behind lib/vtls/vtls_int.h: the callers never know which
 * backend runs. Nothing but store.c and the backends includes this. */
#ifndef WFMD_STORE_BACKEND_H
#define WFMD_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"
#include "store.h"
#include "store_camac.h"
#include "store_console.h"
#include "store_desired.h"
#include "store_fleet.h"
#include "store_operator.h"
#include "store_page.h"
#include "store_rollout.h"

/* One member per public store function, named as the function without its store_ prefix,
 * with exactly its parameters and meaning (see the function's comment in its header). Every
 * member is set: the table is a backend's whole contract (test_server_store_backend checks
 * that none is NULL). */
struct store_ops {
	const char *name;                       /* "sqlite", "postgresql" */
	/* Closes every connection and frees st. */
	void (*close)(store *st);
	/* store_batch_begin/end: one transaction around several calls of this thread */
	int (*batch_begin)(store *st, struct margo_error *err);
	int (*batch_end)(store *st, int rc, struct margo_error *err);
	/* store.h */
	int (*device_list)(store *st, const char *state, int64_t now, struct store_device **items,
			   size_t *n, struct margo_error *err);
	int (*device_get)(store *st, const char *id, int64_t now, struct store_device *out,
			  struct margo_error *err);
	int (*device_approve)(store *st, const char *id, int64_t now, struct margo_error *err);
	int (*device_reject)(store *st, const char *id, int64_t now, struct margo_error *err);
	int (*device_revoke)(store *st, const char *id, int64_t now, struct margo_error *err);
	int (*onboard)(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		       struct margo_error *err);
	int (*poll)(store *st, const char *request_id, const char *poll_token_hash,
		    const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
		    int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
		    struct margo_error *err);
	int (*client_authenticate)(store *st, const char *client_id, const char *secret_hash,
				   int64_t now, int64_t *epoch, struct margo_error *err);
	int (*access_check)(store *st, const char *device_id, int64_t epoch, int64_t now,
			    struct margo_error *err);
	/* access_check and repo_revision_get in one call: one round trip to a remote store. */
	int (*access_poll)(store *st, const char *device_id, int64_t epoch, int64_t now,
			   char rev[STORE_REVISION_LEN], struct margo_error *err);
	int (*capabilities_put)(store *st, const char *device_id, const char *doc, size_t len,
				int64_t now, struct margo_error *err);
	int (*capabilities_get)(store *st, const char *device_id, char **doc, size_t *len,
				int64_t *updated_at, struct margo_error *err);
	int (*deployment_status_add)(store *st, const char *device_id, const char *deployment_id,
				     const char *state, const char *doc, size_t len, int64_t now,
				     struct margo_error *err);
	int (*deployment_list)(store *st, const char *device_id, struct store_deployment **items,
			       size_t *n, struct margo_error *err);
	int (*enrollment_token_create)(store *st, const struct store_enrollment_token *t,
				       const char *token_hash, struct margo_error *err);
	int (*enrollment_token_revoke)(store *st, const char *id, struct margo_error *err);
	int (*certificate_add)(store *st, const char *fingerprint, const char *pem,
			       const char *description, int64_t now, struct margo_error *err);
	int (*certificate_remove)(store *st, const char *fingerprint, struct margo_error *err);
	int (*git_token_issue)(store *st, const char *device_id, const char *token_hash,
			       int64_t now, int64_t expires_at, struct margo_error *err);
	/* git_token_check and repo_revision_get in one call: one round trip to a remote
	 * store. */
	int (*git_token_access)(store *st, const char *token_hash, int64_t now,
				char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
				struct margo_error *err);
	int (*git_token_check)(store *st, const char *token_hash, int64_t now,
			       char device_id[MARGO_UUID_LEN], struct margo_error *err);
	int (*repo_revision_get)(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
				 struct margo_error *err);
	int (*deployment_desired_get)(store *st, const char *device_id, const char *deployment_id,
				      char name[STORE_TEXT_MAX], struct margo_error *err);
	int (*deployment_desired_list)(store *st, const char *device_id,
				       struct store_desired **items, size_t *n,
				       struct margo_error *err);
	/* store_camac.h */
	int (*ca_mac_add)(store *st, const struct store_ca_mac *m, struct margo_error *err);
	int (*ca_mac_get)(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
			  struct margo_error *err);
	/* store_console.h */
	int (*session_create)(store *st, const char *hash, const struct store_session *s,
			      int64_t now, struct margo_error *err);
	int (*session_get)(store *st, const char *hash, int64_t now, struct store_session *out,
			   struct margo_error *err);
	int (*session_delete)(store *st, const char *hash, struct margo_error *err);
	int (*session_delete_operator)(store *st, const char *operator_name, size_t *n,
				       struct margo_error *err);
	int (*summary_get)(store *st, int64_t now, struct store_summary *out,
			   struct margo_error *err);
	int (*deployment_history)(store *st, const char *device_id, const char *deployment_id,
				  size_t limit, struct store_deployment **items, size_t *n,
				  struct margo_error *err);
	/* store_desired.h */
	int (*desired_commit)(store *st, const struct store_desired_change *change,
			      struct margo_error *err);
	int (*object_get)(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
			  unsigned char **data, size_t *len, struct margo_error *err);
	int (*object_stats)(store *st, struct store_object_stats *out, struct margo_error *err);
	/* store_fleet.h */
	int (*labels_get)(store *st, const char *device_id, struct store_label **items, size_t *n,
			  struct margo_error *err);
	int (*labels_update)(store *st, const char *device_id, const struct store_label *set,
			     size_t nset, const char *const *remove, size_t nremove,
			     struct margo_error *err);
	int (*fleet_scan)(store *st, const char *state, const char *after,
			  int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
			  struct margo_error *err);
	int (*fleet_get)(store *st, const char *id,
			 int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
			 struct margo_error *err);
	/* store_operator.h */
	int (*operator_add)(store *st, const struct store_operator *op, const char *token_hash,
			    struct margo_error *err);
	int (*operator_by_token)(store *st, const char *token_hash, struct store_operator *out,
				 struct margo_error *err);
	int (*operator_get)(store *st, const char *name, struct store_operator *out,
			    struct margo_error *err);
	int (*operator_revoke)(store *st, const char *name, int64_t now, struct margo_error *err);
	int (*operator_page)(store *st, const char *after, size_t limit,
			     struct store_operator **items, size_t *n, int *more,
			     struct margo_error *err);
	int (*audit_add)(store *st, const struct store_audit *e, struct margo_error *err);
	int (*audit_page)(store *st, const struct store_audit_filter *f, int64_t after_seq,
			  size_t limit, struct store_audit **items, size_t *n, int *more,
			  struct margo_error *err);
	/* store_page.h */
	int (*device_page)(store *st, const struct store_device_filter *f,
			   const struct store_cursor *after, size_t limit, int64_t now,
			   struct store_device **items, size_t *n, int *more,
			   struct margo_error *err);
	int (*enrollment_token_page)(store *st, const struct store_cursor *after, size_t limit,
				     struct store_enrollment_token **items, size_t *n, int *more,
				     struct margo_error *err);
	int (*certificate_page)(store *st, const struct store_cursor *after, size_t limit,
				struct store_certificate **items, size_t *n, int *more,
				struct margo_error *err);
	int (*deployment_desired_page)(store *st, const char *device_id,
				       const struct store_cursor *after, size_t limit,
				       struct store_desired **items, size_t *n, int *more,
				       struct margo_error *err);
	int (*device_count_by_state)(store *st, int64_t counts[4], struct margo_error *err);
	int (*ping)(store *st, struct margo_error *err);
	/* store_rollout.h */
	int (*rollout_create)(store *st, const struct store_rollout *r,
			      char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
			      int64_t now, struct margo_error *err);
	int (*rollout_get)(store *st, const char *id, struct store_rollout *out,
			   struct margo_error *err);
	int (*rollout_list)(store *st, const char *state, struct store_rollout **items, size_t *n,
			    struct margo_error *err);
	int (*rollout_update)(store *st, const char *id, const char *expect_state,
			      const struct store_rollout *r, int64_t now, struct margo_error *err);
	int (*rollout_devices)(store *st, const char *rollout_id, const char *deployment_id,
			       long wave, int with_previous, struct store_rollout_device **items,
			       size_t *n, struct margo_error *err);
	int (*rollout_device_set)(store *st, const char *rollout_id, const char *device_id,
				  const char *state, const char *previous, size_t previous_len,
				  int64_t status_seq, struct margo_error *err);
	int (*deployment_status_seq)(store *st, const char *device_id, const char *deployment_id,
				     int64_t *seq, struct margo_error *err);
	int (*lease_take)(store *st, const char *name, const char *holder, int64_t now,
			  int64_t ttl, int *held, struct margo_error *err);
};

/* The first member of each backend's own struct (struct sqlite_store, struct pg_store): a
 * store * is a pointer to it, which the backend's functions turn back into their struct. */
struct store {
	const struct store_ops *ops;
};

/* Opens (creating when missing) the SQLite database at path, migrating its schema
 * (store_sqlite.c). */
int store_sqlite_open(const char *path, store **out, struct margo_error *err);

#ifdef WFMD_HAVE_POSTGRESQL
/* Connects to the PostgreSQL database conninfo names (a postgresql:// URL or key=value
 * words; the password comes from libpq's password file), migrating its schema
 * (store_pg.c). */
int store_pg_open(const char *conninfo, store **out, struct margo_error *err);
#endif

#endif
