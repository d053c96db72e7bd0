/* The PostgreSQL backend's transactions: READ COMMITTED (PostgreSQL's default), one per
 * store call that writes several rows; a tx_begin inside one (store_batch_begin, then store
 * calls) is a savepoint, so an inner call's failure undoes only its own writes. Races are
 * settled by row locks (SELECT ... FOR UPDATE) and conditional UPDATEs in the functions, not
 * by SERIALIZABLE and retries. */
#include "store_pg_int.h"

static int tx_lost(struct margo_error *err)
{
	return margo_error_set(err, MARGO_ESTORE, "store unavailable: the store's transaction "
			       "was rolled back");
}

int pg_tx_begin(struct pg_conn *c, struct margo_error *err)
{
	if (c->tx_depth > 0) {
		if (c->tx_lost)
			return tx_lost(err);
		if (pg_exec_cmd(c, "SAVEPOINT nested", 0, NULL, err, "savepoint") < 0)
			return MARGO_ESTORE;
		c->tx_depth++;
		return 0;
	}
	c->requests_locked = 0;
	if (pg_exec_cmd(c, "BEGIN", 0, NULL, err, "begin") < 0)
		return MARGO_ESTORE;
	c->tx_depth = 1;
	c->tx_lost = 0;
	return 0;
}

static int savepoint_end(struct pg_conn *c, int rc, struct margo_error *err)
{
	c->tx_depth--;
	if (c->tx_lost || c->broken || PQtransactionStatus(c->db) == PQTRANS_IDLE ||
	    PQtransactionStatus(c->db) == PQTRANS_UNKNOWN) {
		c->tx_lost = 1;
		return rc < 0 ? rc : tx_lost(err);
	}
	/* After an error the transaction is aborted until the savepoint is rolled back to. */
	if (rc < 0 && pg_exec_cmd(c, "ROLLBACK TO SAVEPOINT nested", 0, NULL, NULL,
				  "rollback to") < 0)
		c->tx_lost = 1;
	if (pg_exec_cmd(c, "RELEASE SAVEPOINT nested", 0, NULL, NULL, "release") < 0 &&
	    rc == 0) {
		c->tx_lost = 1;
		rc = tx_lost(err);
	}
	return rc;
}

int pg_tx_end(struct pg_conn *c, int rc, struct margo_error *err)
{
	if (c->tx_depth > 1)
		return savepoint_end(c, rc, err);
	c->tx_depth = 0;
	c->requests_locked = 0;
	/* COMMIT of an aborted transaction "succeeds" as a ROLLBACK: never report that as
	 * committed. */
	if (rc == 0 && (c->tx_lost || PQtransactionStatus(c->db) != PQTRANS_INTRANS))
		rc = tx_lost(err);
	if (rc == 0)
		return pg_exec_cmd(c, "COMMIT", 0, NULL, err, "commit");
	pg_rollback(c);
	return rc;
}
