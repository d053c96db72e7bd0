/* Enrollment-token CA MACs (see margo/camac.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "margo/base64.h"
#include "margo/camac.h"
#include "margo/token.h"

#define INFO_LOOKUP "margo enrollment-token lookup v1"
#define INFO_CA_MAC "margo ca-mac v1"
#define LOOKUP_BYTES 16
#define KEY_BYTES 32

/* HKDF-SHA256 (RFC 5869) of the token text with an empty salt. */
static int derive(const char *token, const char *info, unsigned char *out, size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	int rc = MARGO_ECRYPTO;

	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)token,
						      strlen(token));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
						      strlen(info));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, len, params) == 1)
		rc = MARGO_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* base64url without padding of len bytes into out (cap bytes). */
static int encode(const unsigned char *data, size_t len, char *out, size_t cap)
{
	char *s = margo_base64_encode(data, len, MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	int rc = s != NULL && strlen(s) < cap ? MARGO_OK : MARGO_ENOMEM;

	if (rc == 0)
		memcpy(out, s, strlen(s) + 1);
	free(s);
	return rc;
}

int margo_token_lookup(const char *token, char out[MARGO_TOKEN_LOOKUP_LEN],
		       struct margo_error *err)
{
	unsigned char id[LOOKUP_BYTES];

	if (derive(token, INFO_LOOKUP, id, sizeof(id)) != 0)
		return margo_error_set(err, MARGO_ECRYPTO, "HKDF failed");
	return encode(id, sizeof(id), out, MARGO_TOKEN_LOOKUP_LEN) == 0 ? MARGO_OK :
	       margo_error_set(err, MARGO_ENOMEM, "out of memory");
}

int margo_ca_mac(const char *token, X509 *ca, char out[MARGO_CA_MAC_LEN],
		 struct margo_error *err)
{
	unsigned char key[KEY_BYTES], mac[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mac_len = 0;
	int der_len, rc = MARGO_OK;

	der_len = i2d_X509(ca, &der);
	if (der_len <= 0) {
		rc = margo_error_set(err, MARGO_ECRYPTO, "cannot encode the CA");
		goto out;
	}
	if (derive(token, INFO_CA_MAC, key, sizeof(key)) != 0 ||
	    HMAC(EVP_sha256(), key, sizeof(key), der, (size_t)der_len, mac, &mac_len) == NULL) {
		rc = margo_error_set(err, MARGO_ECRYPTO, "HKDF/HMAC failed");
		goto out;
	}
	if (encode(mac, mac_len, out, MARGO_CA_MAC_LEN) != 0)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_free(der);
	return rc;
}

int margo_ca_mac_verify(const char *token, X509 *ca, const char *mac, struct margo_error *err)
{
	char want[MARGO_CA_MAC_LEN];
	int rc = margo_ca_mac(token, ca, want, err);

	if (rc != 0)
		return rc;
	if (!margo_token_equal(want, mac))
		return margo_error_set(err, MARGO_EAUTH,
				       "the CA MAC does not match: not the CA this enrollment token was issued for");
	return MARGO_OK;
}
