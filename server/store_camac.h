/* The store interface, continued (store.h): the CA MAC of each enrollment token
 * (margo/camac.h), kept next to the token's hash and derived differently from it. */
#ifndef WFMD_STORE_CAMAC_H
#define WFMD_STORE_CAMAC_H

#include <stdint.h>

#include "margo/camac.h"
#include "margo/cert.h"
#include "store.h"

struct store_ca_mac {
	char token_id[MARGO_UUID_LEN];
	char lookup[MARGO_TOKEN_LOOKUP_LEN];
	char ca_fingerprint[MARGO_FINGERPRINT_LEN];  /* the CA the MAC was computed over */
	char ca_mac[MARGO_CA_MAC_LEN];
};

/* Records the CA MAC of an existing enrollment token. MARGO_EEXIST when the token already
 * has one. */
int store_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err);

/* The CA MAC recorded under lookup for a token that can still be used at now (not revoked,
 * expired or used up). MARGO_ENOTFOUND otherwise. */
int store_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		     struct margo_error *err);

#endif
