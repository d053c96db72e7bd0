/* store.h's front: opening a backend, and every store_* function dispatched through the
 * backend's table (store_backend.h); plus the helpers that free what any backend returns. */
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

/* ---- opening ---- */

int store_open(const char *path, store **out, struct margo_error *err)
{
	return store_sqlite_open(path, out, err);
}

/* The URL's scheme length when it names PostgreSQL (libpq's two spellings), else 0. */
static size_t pg_scheme_len(const char *url)
{
	static const char *const schemes[] = { "postgresql://", "postgres://" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			return strlen(schemes[i]);
	return 0;
}

/* 1 when the PostgreSQL URL (after its scheme) carries a password: user:password@ before the
 * host, or a password= parameter. */
static int pg_url_has_password(const char *rest)
{
	size_t authority = strcspn(rest, "/?");
	const char *at = memchr(rest, '@', authority);
	const char *q = strchr(rest, '?');

	if (at != NULL && memchr(rest, ':', (size_t)(at - rest)) != NULL)
		return 1;
	for (; q != NULL; q = strchr(q + 1, '&'))
		if (strncmp(q + 1, "password=", 9) == 0)
			return 1;
	return 0;
}

int store_url_check(const char *url, struct margo_error *err)
{
	size_t scheme = pg_scheme_len(url), shown = strcspn(url, ":");

	/* Nothing past the scheme is echoed: it may hold a secret. */
	if (scheme == 0 && strstr(url, "://") == NULL)
		return margo_error_set(err, MARGO_EINVAL, "a store URL starts with postgresql:// "
				       "(without one wfmd keeps SQLite in the data directory)");
	if (scheme == 0)
		return margo_error_set(err, MARGO_EINVAL, "unknown store URL scheme '%.*s': wfmd "
				       "knows postgresql:// (and SQLite without a URL)",
				       (int)(shown < 20 ? shown : 20), url);
	if (pg_url_has_password(url + scheme))
		return margo_error_set(err, MARGO_EINVAL, "the store URL carries a password: put "
				       "it in ~/.pgpass (or the file PGPASSFILE names) instead");
#ifndef WFMD_HAVE_POSTGRESQL
	return margo_error_set(err, MARGO_EUNSUPPORTED,
			       "this wfmd was built without PostgreSQL support");
#else
	return 0;
#endif
}

int store_open_url(const char *url, const char *sqlite_path, store **out,
		   struct margo_error *err)
{
	int rc;

	if (url == NULL)
		return store_sqlite_open(sqlite_path, out, err);
	if ((rc = store_url_check(url, err)) < 0)
		return rc;
#ifdef WFMD_HAVE_POSTGRESQL
	return store_pg_open(url, out, err);
#else
	return MARGO_EUNSUPPORTED;      /* store_url_check said so */
#endif
}

void store_close(store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

int store_batch_begin(store *st, struct margo_error *err)
{
	return st->ops->batch_begin(st, err);
}

int store_batch_end(store *st, int rc, struct margo_error *err)
{
	return st->ops->batch_end(st, rc, err);
}

/* ---- store.h ---- */

int store_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		      size_t *n, struct margo_error *err)
{
	return st->ops->device_list(st, state, now, items, n, err);
}

int store_device_get(store *st, const char *id, int64_t now, struct store_device *out,
		     struct margo_error *err)
{
	return st->ops->device_get(st, id, now, out, err);
}

int store_device_approve(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return st->ops->device_approve(st, id, now, err);
}

int store_device_reject(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return st->ops->device_reject(st, id, now, err);
}

int store_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return st->ops->device_revoke(st, id, now, err);
}

int store_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		  struct margo_error *err)
{
	return st->ops->onboard(st, in, out, err);
}

int store_poll(store *st, const char *request_id, const char *poll_token_hash,
	       const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
	       int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
	       struct margo_error *err)
{
	return st->ops->poll(st, request_id, poll_token_hash, secret_hash, git_token_hash,
			     git_expires_at, now, result, device_id, err);
}

int store_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			      int64_t now, int64_t *epoch, struct margo_error *err)
{
	return st->ops->client_authenticate(st, client_id, secret_hash, now, epoch, err);
}

int store_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
		       struct margo_error *err)
{
	return st->ops->access_check(st, device_id, epoch, now, err);
}

int store_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		      char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	rev[0] = '\0';
	return st->ops->access_poll(st, device_id, epoch, now, rev, err);
}

int store_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			   int64_t now, struct margo_error *err)
{
	return st->ops->capabilities_put(st, device_id, doc, len, now, err);
}

int store_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			   int64_t *updated_at, struct margo_error *err)
{
	return st->ops->capabilities_get(st, device_id, doc, len, updated_at, err);
}

int store_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
				const char *state, const char *doc, size_t len, int64_t now,
				struct margo_error *err)
{
	return st->ops->deployment_status_add(st, device_id, deployment_id, state, doc, len, now,
					      err);
}

int store_deployment_list(store *st, const char *device_id, struct store_deployment **items,
			  size_t *n, struct margo_error *err)
{
	return st->ops->deployment_list(st, device_id, items, n, err);
}

int store_enrollment_token_create(store *st, const struct store_enrollment_token *t,
				  const char *token_hash, struct margo_error *err)
{
	return st->ops->enrollment_token_create(st, t, token_hash, err);
}

int store_enrollment_token_revoke(store *st, const char *id, struct margo_error *err)
{
	return st->ops->enrollment_token_revoke(st, id, err);
}

int store_certificate_add(store *st, const char *fingerprint, const char *pem,
			  const char *description, int64_t now, struct margo_error *err)
{
	return st->ops->certificate_add(st, fingerprint, pem, description, now, err);
}

int store_certificate_remove(store *st, const char *fingerprint, struct margo_error *err)
{
	return st->ops->certificate_remove(st, fingerprint, err);
}

int store_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
			  int64_t expires_at, struct margo_error *err)
{
	return st->ops->git_token_issue(st, device_id, token_hash, now, expires_at, err);
}

int store_git_token_access(store *st, const char *token_hash, int64_t now,
			   char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			   struct margo_error *err)
{
	rev[0] = '\0';
	return st->ops->git_token_access(st, token_hash, now, device_id, rev, err);
}

int store_git_token_check(store *st, const char *token_hash, int64_t now,
			  char device_id[MARGO_UUID_LEN], struct margo_error *err)
{
	return st->ops->git_token_check(st, token_hash, now, device_id, err);
}

int store_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			    struct margo_error *err)
{
	return st->ops->repo_revision_get(st, device_id, rev, err);
}

int store_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
				 char name[STORE_TEXT_MAX], struct margo_error *err)
{
	return st->ops->deployment_desired_get(st, device_id, deployment_id, name, err);
}

int store_deployment_desired_list(store *st, const char *device_id, struct store_desired **items,
				  size_t *n, struct margo_error *err)
{
	return st->ops->deployment_desired_list(st, device_id, items, n, err);
}

/* ---- store_camac.h ---- */

int store_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err)
{
	return st->ops->ca_mac_add(st, m, err);
}

int store_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		     struct margo_error *err)
{
	return st->ops->ca_mac_get(st, lookup, now, out, err);
}

/* ---- store_console.h ---- */

int store_session_create(store *st, const char *hash, const struct store_session *s, int64_t now,
			 struct margo_error *err)
{
	return st->ops->session_create(st, hash, s, now, err);
}

int store_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		      struct margo_error *err)
{
	return st->ops->session_get(st, hash, now, out, err);
}

int store_session_delete(store *st, const char *hash, struct margo_error *err)
{
	return st->ops->session_delete(st, hash, err);
}

int store_session_delete_operator(store *st, const char *operator_name, size_t *n,
				  struct margo_error *err)
{
	return st->ops->session_delete_operator(st, operator_name, n, err);
}

int store_summary_get(store *st, int64_t now, struct store_summary *out, struct margo_error *err)
{
	return st->ops->summary_get(st, now, out, err);
}

int store_deployment_history(store *st, const char *device_id, const char *deployment_id,
			     size_t limit, struct store_deployment **items, size_t *n,
			     struct margo_error *err)
{
	return st->ops->deployment_history(st, device_id, deployment_id, limit, items, n, err);
}

/* ---- store_desired.h ---- */

int store_desired_commit(store *st, const struct store_desired_change *change,
			 struct margo_error *err)
{
	return st->ops->desired_commit(st, change, err);
}

int store_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		     unsigned char **data, size_t *len, struct margo_error *err)
{
	return st->ops->object_get(st, oid, type, data, len, err);
}

int store_object_stats(store *st, struct store_object_stats *out, struct margo_error *err)
{
	return st->ops->object_stats(st, out, err);
}

/* ---- store_fleet.h ---- */

int store_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		     struct margo_error *err)
{
	return st->ops->labels_get(st, device_id, items, n, err);
}

int store_labels_update(store *st, const char *device_id, const struct store_label *set,
			size_t nset, const char *const *remove, size_t nremove,
			struct margo_error *err)
{
	return st->ops->labels_update(st, device_id, set, nset, remove, nremove, err);
}

int store_fleet_scan(store *st, const char *state, const char *after,
		     int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		     struct margo_error *err)
{
	return st->ops->fleet_scan(st, state, after, fn, ctx, err);
}

int store_fleet_get(store *st, const char *id,
		    int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		    struct margo_error *err)
{
	return st->ops->fleet_get(st, id, fn, ctx, err);
}

/* ---- store_operator.h ---- */

int store_operator_add(store *st, const struct store_operator *op, const char *token_hash,
		       struct margo_error *err)
{
	return st->ops->operator_add(st, op, token_hash, err);
}

int store_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			    struct margo_error *err)
{
	return st->ops->operator_by_token(st, token_hash, out, err);
}

int store_operator_get(store *st, const char *name, struct store_operator *out,
		       struct margo_error *err)
{
	return st->ops->operator_get(st, name, out, err);
}

int store_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err)
{
	return st->ops->operator_revoke(st, name, now, err);
}

int store_operator_page(store *st, const char *after, size_t limit, struct store_operator **items,
			size_t *n, int *more, struct margo_error *err)
{
	return st->ops->operator_page(st, after, limit, items, n, more, err);
}

int store_audit_add(store *st, const struct store_audit *e, struct margo_error *err)
{
	return st->ops->audit_add(st, e, err);
}

int store_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq, size_t limit,
		     struct store_audit **items, size_t *n, int *more, struct margo_error *err)
{
	return st->ops->audit_page(st, f, after_seq, limit, items, n, more, err);
}

/* ---- store_page.h ---- */

int store_device_page(store *st, const struct store_device_filter *f,
		      const struct store_cursor *after, size_t limit, int64_t now,
		      struct store_device **items, size_t *n, int *more, struct margo_error *err)
{
	return st->ops->device_page(st, f, after, limit, now, items, n, more, err);
}

int store_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
				struct store_enrollment_token **items, size_t *n, int *more,
				struct margo_error *err)
{
	return st->ops->enrollment_token_page(st, after, limit, items, n, more, err);
}

int store_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			   struct store_certificate **items, size_t *n, int *more,
			   struct margo_error *err)
{
	return st->ops->certificate_page(st, after, limit, items, n, more, err);
}

int store_deployment_desired_page(store *st, const char *device_id,
				  const struct store_cursor *after, size_t limit,
				  struct store_desired **items, size_t *n, int *more,
				  struct margo_error *err)
{
	return st->ops->deployment_desired_page(st, device_id, after, limit, items, n, more, err);
}

int store_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err)
{
	return st->ops->device_count_by_state(st, counts, err);
}

int store_ping(store *st, struct margo_error *err)
{
	return st->ops->ping(st, err);
}

/* ---- store_rollout.h ---- */

int store_rollout_create(store *st, const struct store_rollout *r,
			 char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
			 int64_t now, struct margo_error *err)
{
	return st->ops->rollout_create(st, r, device_ids, waves, n, now, err);
}

int store_rollout_get(store *st, const char *id, struct store_rollout *out, struct margo_error *err)
{
	return st->ops->rollout_get(st, id, out, err);
}

int store_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
		       struct margo_error *err)
{
	return st->ops->rollout_list(st, state, items, n, err);
}

int store_rollout_update(store *st, const char *id, const char *expect_state,
			 const struct store_rollout *r, int64_t now, struct margo_error *err)
{
	return st->ops->rollout_update(st, id, expect_state, r, now, err);
}

int store_rollout_devices(store *st, const char *rollout_id, const char *deployment_id, long wave,
			  int with_previous, struct store_rollout_device **items, size_t *n,
			  struct margo_error *err)
{
	return st->ops->rollout_devices(st, rollout_id, deployment_id, wave, with_previous, items,
					n, err);
}

int store_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			     const char *state, const char *previous, size_t previous_len,
			     int64_t status_seq, struct margo_error *err)
{
	return st->ops->rollout_device_set(st, rollout_id, device_id, state, previous, previous_len,
					   status_seq, err);
}

int store_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
				int64_t *seq, struct margo_error *err)
{
	return st->ops->deployment_status_seq(st, device_id, deployment_id, seq, err);
}

int store_lease_take(store *st, const char *name, const char *holder, int64_t now, int64_t ttl,
		     int *held, struct margo_error *err)
{
	return st->ops->lease_take(st, name, holder, now, ttl, held, err);
}

/* ---- what the backends return ---- */

const char *const store_summary_states[4] = { "pending", "active", "rejected", "revoked" };

void store_device_clear(struct store_device *d)
{
	if (d == NULL)
		return;
	free(d->certificate_pem);
	d->certificate_pem = NULL;
}

void store_devices_free(struct store_device *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_device_clear(&items[i]);
	free(items);
}

void store_deployments_free(struct store_deployment *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].document);
	free(items);
}

void store_desired_free(struct store_desired *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].status_document);
	free(items);
}

void store_rollout_clear(struct store_rollout *r)
{
	if (r == NULL)
		return;
	free(r->selector);
	free(r->yaml);
	r->selector = r->yaml = NULL;
}

void store_rollouts_free(struct store_rollout *items, size_t n)
{
	for (size_t i = 0; items != NULL && i < n; i++)
		store_rollout_clear(&items[i]);
	free(items);
}

void store_rollout_devices_free(struct store_rollout_device *items, size_t n)
{
	for (size_t i = 0; items != NULL && i < n; i++)
		free(items[i].previous_yaml);
	free(items);
}
