/* The SQLite store's schema: numbered migration steps, each applied once. */
#ifndef WFMD_STORE_SQLITE_SCHEMA_H
#define WFMD_STORE_SQLITE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "margo/error.h"

/* Brings the database behind db to the newest schema this wfmd knows, in one IMMEDIATE
 * transaction: every step of the table in store_sqlite_schema.c not yet recorded in
 * schema_migrations is applied in order and recorded with now. A database carrying a step
 * newer than this wfmd knows is refused (MARGO_ESTORE, nothing changed), so an older wfmd
 * never runs on a newer schema. */
int store_sqlite_migrate(sqlite3 *db, int64_t now, struct margo_error *err);

/* The newest step this wfmd knows, and how many steps it knows. */
int store_sqlite_schema_latest(void);
size_t store_sqlite_schema_nsteps(void);

#endif
