/* The store interface, continued (store.h): lists a page at a time. Every list has a stable
 * order on a unique key, (created_at, id) for most, and a page starts strictly after the key
 * of the previous page's last item (keyset pagination), so a page costs the same wherever it
 * is in the list and rows added or removed meanwhile never shift items between pages. */
#ifndef WFMD_STORE_PAGE_H
#define WFMD_STORE_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_CURSOR_KEY_MAX STORE_ID_MAX  /* a deployment id fits */

/* The position after which a page starts: the sort key of the last item seen. */
struct store_cursor {
	int set;                        /* 0: from the start */
	int64_t at;                     /* created_at of that item */
	char key[STORE_CURSOR_KEY_MAX]; /* its id (fingerprint for certificates, deployment
					 * id for a device's deployments) */
};

/* Device filters; each NULL (or -1 for times) when not used, all given ones must hold. */
struct store_device_filter {
	const char *state;              /* pending, active, rejected, revoked */
	const char *vendor;             /* exact */
	const char *model_number;       /* exact */
	const char *serial_prefix;      /* serial number starts with */
	const char *id_prefix;          /* device id starts with */
	int64_t seen_before;            /* last seen before (never seen counts as before) */
	int64_t seen_after;             /* last seen at or after */
	const char *deployment_state;   /* some desired deployment's latest reported state
					 * is this one (e.g. Failed, Installed) */
};

/* Devices in (created_at, id) order matching f, after the cursor, at most limit; *more set
 * when more match. Expired pending requests are dropped first (as store_device_list).
 * *items newly allocated (store_devices_free). */
int store_device_page(store *st, const struct store_device_filter *f,
		      const struct store_cursor *after, size_t limit, int64_t now,
		      struct store_device **items, size_t *n, int *more, struct margo_error *err);

/* Enrollment tokens in (created_at, id) order. *items newly allocated (free()). */
int store_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
				struct store_enrollment_token **items, size_t *n, int *more,
				struct margo_error *err);

/* Pre-registered certificates in (created_at, fingerprint) order. *items newly allocated
 * (free()). */
int store_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			   struct store_certificate **items, size_t *n, int *more,
			   struct margo_error *err);

/* A device's deployments (store_deployment_desired_list) in (created_at, deployment_id)
 * order, after the cursor (its key a deployment id), at most limit; *more set when more
 * follow. *items newly allocated (store_desired_free). */
int store_deployment_desired_page(store *st, const char *device_id,
				  const struct store_cursor *after, size_t limit,
				  struct store_desired **items, size_t *n, int *more,
				  struct margo_error *err);

/* Devices per state, for metrics and the overview: counts[0..3] = pending, active, rejected,
 * revoked. */
int store_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err);

/* 0 when the database answers a query inside a write transaction (readiness: it is there
 * and writable now); MARGO_ESTORE after the busy timeout when another writer holds it. */
int store_ping(store *st, struct margo_error *err);

#endif
