/* The store's part of the web console (docs/console.md): login sessions and the fleet
 * summary of the overview page. Session tokens are stored only as their SHA-256 hashes. */
#ifndef WFMD_STORE_CONSOLE_H
#define WFMD_STORE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_OPERATOR_MAX 65   /* operator name + NUL */

struct store_session {
	char operator_name[STORE_OPERATOR_MAX];
	char role[16];                  /* viewer, operator, admin */
	int bootstrap;                  /* 1: the holder of DIR/admin.token, not a named operator */
	int64_t created_at;
	int64_t expires_at;
};

/* Records a session whose token hashes to hash. Expired sessions are dropped first. */
int store_session_create(store *st, const char *hash, const struct store_session *s,
			 int64_t now, struct margo_error *err);
/* The live session whose token hashes to hash: 0, or MARGO_EAUTH (unknown, expired or
 * ended) with err saying which. */
int store_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		      struct margo_error *err);
/* Ends one session (logout). Ending an unknown one is fine. */
int store_session_delete(store *st, const char *hash, struct margo_error *err);
/* Ends every session of an operator (revoked); *n gets how many. */
int store_session_delete_operator(store *st, const char *operator_name, size_t *n,
				  struct margo_error *err);

#define STORE_SUMMARY_FAILING_MAX 20

struct store_failing {
	char device_id[MARGO_UUID_LEN];
	char deployment_id[STORE_ID_MAX];
	int64_t received_at;
};

/* The overview page's figures, each from an indexed count (no per-device work in C). */
struct store_summary {
	int64_t by_state[4];            /* pending, active, rejected, revoked */
	int64_t onboarded_1h;           /* devices created in the last hour / day */
	int64_t onboarded_24h;
	int64_t seen_5m;                /* devices whose last request was in the last 5 min */
	int64_t failing_total;          /* deployments whose latest report is Failed */
	struct store_failing failing[STORE_SUMMARY_FAILING_MAX]; /* the most recent ones */
	size_t nfailing;
};

extern const char *const store_summary_states[4];

int store_summary_get(store *st, int64_t now, struct store_summary *out,
		      struct margo_error *err);

/* The newest reports (at most limit, newest first) of one deployment of a device: the status
 * history the console's device page shows. *items newly allocated (store_deployments_free);
 * none is not an error. */
int store_deployment_history(store *st, const char *device_id, const char *deployment_id,
			     size_t limit, struct store_deployment **items, size_t *n,
			     struct margo_error *err);

#endif
