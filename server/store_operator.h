/* The store interface, continued (store.h): named operator accounts and the audit log of
 * mutating admin calls. Same rules as store.h: no SQL leaves the store, tokens are passed in
 * and kept only as their SHA-256 hex hashes. */
#ifndef WFMD_STORE_OPERATOR_H
#define WFMD_STORE_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_page.h"

/* Operator names: 1 to 32 of [a-z0-9._-], starting with a letter or digit. */
#define STORE_OPERATOR_NAME_MAX 33
#define STORE_ROLE_MAX 16

struct store_operator {
	char name[STORE_OPERATOR_NAME_MAX];
	char role[STORE_ROLE_MAX];      /* viewer, operator, admin */
	char created_by[STORE_OPERATOR_NAME_MAX];
	int64_t created_at;
	int64_t revoked_at;             /* -1: live */
};

/* Adds an operator with the hash of its token. MARGO_EEXIST when the name is taken (also by
 * a revoked operator: names are never reused, so the audit log stays unambiguous). */
int store_operator_add(store *st, const struct store_operator *op, const char *token_hash,
		       struct margo_error *err);
/* The live operator whose token hashes to token_hash. MARGO_ENOTFOUND when there is none
 * (unknown or revoked). */
int store_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			    struct margo_error *err);
/* The operator named name, live or revoked. MARGO_ENOTFOUND. */
int store_operator_get(store *st, const char *name, struct store_operator *out,
		       struct margo_error *err);
/* Marks the operator revoked at now (its token stops working at once). MARGO_ENOTFOUND;
 * revoking twice keeps the first time. */
int store_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err);
/* A page of operators by name, after the name in after (NULL: from the start). *items newly
 * allocated (free()); *more set when more follow. */
int store_operator_page(store *st, const char *after, size_t limit,
			struct store_operator **items, size_t *n, int *more,
			struct margo_error *err);

/* ---- audit log ---- */

#define STORE_AUDIT_TEXT_MAX 256

struct store_audit {
	int64_t seq;                    /* order of recording; the cursor */
	int64_t at;
	char operator_name[STORE_OPERATOR_NAME_MAX];
	char method[8];
	char route[STORE_AUDIT_TEXT_MAX];       /* the route pattern */
	char path[STORE_AUDIT_TEXT_MAX];        /* the request path, no query */
	char device_id[MARGO_UUID_LEN];         /* "" when the call names no device */
	char target[STORE_AUDIT_TEXT_MAX];      /* other ids the call named or created */
	char client_addr[64];
	int status;
};

/* Appends an entry (seq and anything cut to fit are set by the store). */
int store_audit_add(store *st, const struct store_audit *e, struct margo_error *err);

struct store_audit_filter {
	const char *operator_name;      /* NULL: any */
	const char *device_id;          /* NULL: any */
	int64_t since;                  /* at >= since; -1: no bound */
	int64_t until;                  /* at < until; -1: no bound */
};

/* A page of entries, newest first, with seq < after_seq (-1: from the newest). *items newly
 * allocated (free()). */
int store_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq,
		     size_t limit, struct store_audit **items, size_t *n, int *more,
		     struct margo_error *err);

#endif
