/* One-secret onboarding on the WFM side (margo/camac.h, docs/api.md section 1): the CA MAC of
 * an enrollment token is computed when the token is issued, the only moment wfmd holds the
 * token, and handed to whoever asks with the token's lookup id. */
#ifndef WFMD_ENROLLMENT_CAMAC_H
#define WFMD_ENROLLMENT_CAMAC_H

#include "margo/camac.h"
#include "wfmd.h"

/* Computes and stores the CA MAC of token (issued as token_id) over the running CA. */
int enrollment_ca_mac_record(struct wfmd *w, const char *token_id, const char *token,
			     struct margo_error *err);

/* The CA MAC for lookup into mac when a usable token has one over the running CA.
 * MARGO_ENOTFOUND when none (unknown, revoked, expired, used up); MARGO_ECONFLICT when the
 * token's MAC was computed over another CA (the CA was replaced since it was issued). */
int enrollment_ca_mac_find(struct wfmd *w, const char *lookup, char mac[MARGO_CA_MAC_LEN],
			   struct margo_error *err);

#endif
