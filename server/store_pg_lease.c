/* store_rollout.h's named leases on PostgreSQL: one upsert whose update applies only when
 * the lease is the taker's already or has expired. Two replicas racing for a free or
 * expired lease: the second's ON CONFLICT waits for the first's row, then re-checks the
 * WHERE against the new holder, and takes nothing. */
#include "store_rollout.h"
#include "store_pg_int.h"

int pg_lease_take(store *st, const char *name, const char *holder, int64_t now, int64_t ttl,
		  int *held, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 until = pg_i64(now + ttl), at = pg_i64(now);
	const char *params[] = { name, holder, until.s, at.s };
	long n;

	*held = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)"
			    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
			    " expires_at = excluded.expires_at"
			    " WHERE leases.holder = excluded.holder OR leases.expires_at <= $4", 4,
			    params, &n, err, "lease take") < 0)
		return MARGO_ESTORE;
	*held = n > 0;
	return 0;
}
