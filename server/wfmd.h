/* The running service: configuration and shared state every handler reads. */
#ifndef WFMD_WFMD_H
#define WFMD_WFMD_H

#include <stdint.h>

#include "margo/token.h"
#include "access_token.h"
#include "store.h"

#define WFMD_DEFAULT_PORT 8443
#define WFMD_DEFAULT_ACCESS_TOKEN_TTL 3600
#define WFMD_DEFAULT_PENDING_MAX 1000
#define WFMD_DEFAULT_PENDING_TTL 86400
#define WFMD_DEFAULT_GIT_TOKEN_TTL 3600
#define WFMD_POLL_INTERVAL 30           /* retryAfterSeconds for pending devices */
#define WFMD_CREATED_SKEW 300           /* RFC 9421 created: +-300 s */
#define WFMD_DEFAULT_POLL_ACTIVE 15     /* Margo-Poll-Interval during a rollout wave */

struct rollout_engine;

struct wfmd {
	store *store;
	char *public_url;               /* "https://host:port", no trailing slash */
	char *ca_pem;                   /* root CA PEM text */
	char admin_token_hash[MARGO_TOKEN_HASH_LEN];
	struct access_key *access_key;  /* MAC key of access tokens (secret) */
	int64_t access_token_ttl;
	long pending_max;
	int64_t pending_ttl;
	int allow_approval_requests;
	int64_t git_token_ttl;
	struct rollout_engine *rollouts; /* rollout.h; NULL when not running */
	long poll_interval_active;      /* Margo-Poll-Interval for devices in an active wave */
	long poll_interval_rest;        /* ... for the others; 0: no header */
	/* This wfmd among several sharing one store ("host:/data/dir"); NULL: unnamed. Names
	 * it as the holder of store leases (the rollout engine's). */
	char *instance;
};

#endif
