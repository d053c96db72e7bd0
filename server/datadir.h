/* The data directory: root CA, server certificate, admin token, access-token key, database
 * path, public-url.
 * First start creates everything; later starts reuse it (reissuing the server certificate
 * with the same CA when a requested name is missing from it or it is about to expire). */
#ifndef WFMD_DATADIR_H
#define WFMD_DATADIR_H

#include <stddef.h>

#include "margo/cert.h"
#include "margo/error.h"
#include "margo/token.h"

#define DATADIR_CA_DAYS 3650
#define DATADIR_SERVER_DAYS 825
#define DATADIR_RENEW_DAYS 30
#define DATADIR_ACCESS_KEY_LEN 32

struct datadir {
	char *dir;
	char *db_path;
	char *ca_pem;                   /* root CA PEM text */
	char *cert_pem;                 /* server certificate PEM text */
	char *key_pem;                  /* server key PEM text (secret) */
	char admin_token_hash[MARGO_TOKEN_HASH_LEN];
	unsigned char access_key[DATADIR_ACCESS_KEY_LEN]; /* access-token.key (secret) */
};

/* Opens or initialises dir. extra_names: --san values and the public URL's host, added to the
 * default SANs (localhost, 127.0.0.1, ::1, the host name). */
int datadir_open(const char *dir, const char *const *extra_names, size_t nextra,
		 struct datadir *out, struct margo_error *err);
/* Frees (and wipes) the members. */
void datadir_clear(struct datadir *d);

/* Rewrites DIR/public-url atomically: url + newline. */
int datadir_write_public_url(const struct datadir *d, const char *url,
			     struct margo_error *err);

/* The CA pin "sha256:<hex>" of DIR/ca.crt (without initialising anything). */
int datadir_fingerprint(const char *dir, char out[MARGO_FINGERPRINT_LEN],
			struct margo_error *err);

#endif
