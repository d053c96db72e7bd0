#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "margo/base64.h"
#include "access_token.h"

#define VERSION 1
#define NONCE_LEN 32
#define BODY_LEN (1 + 16 + 8 + 8 + NONCE_LEN)
#define MAC_LEN 32
#define RAW_LEN (BODY_LEN + MAC_LEN)

static void put_be64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(u & 0xff);
		u >>= 8;
	}
}

static int64_t get_be64(const unsigned char *p)
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lowercase UUID text to its 16 bytes; -1 when not a lowercase UUID. */
static int uuid_pack(const char *text, unsigned char out[16])
{
	size_t j = 0;

	if (!margo_uuid_valid(text))
		return -1;
	for (size_t i = 0; text[i] != '\0' && j < 16; i++) {
		if (text[i] == '-')
			continue;
		out[j++] = (unsigned char)(hexval(text[i]) << 4 | hexval(text[i + 1]));
		i++;
	}
	return j == 16 ? 0 : -1;
}

static void uuid_unpack(const unsigned char in[16], char out[MARGO_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t j = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[in[i] >> 4];
		out[j++] = hex[in[i] & 0xf];
	}
	out[j] = '\0';
}

static int mac(const unsigned char key[ACCESS_TOKEN_KEY_LEN], const unsigned char *body,
	       unsigned char out[MAC_LEN])
{
	unsigned int len = MAC_LEN;

	return HMAC(EVP_sha256(), key, ACCESS_TOKEN_KEY_LEN, body, BODY_LEN, out, &len) != NULL &&
	       len == MAC_LEN ? 0 : -1;
}

char *access_token_mint(const unsigned char key[ACCESS_TOKEN_KEY_LEN],
			const struct access_token *t)
{
	unsigned char raw[RAW_LEN];
	char *token = NULL;

	raw[0] = VERSION;
	if (uuid_pack(t->device_id, raw + 1) < 0)
		goto out;
	put_be64(raw + 17, t->epoch);
	put_be64(raw + 25, t->expires_at);
	if (RAND_bytes(raw + 33, NONCE_LEN) != 1 || mac(key, raw, raw + BODY_LEN) < 0)
		goto out;
	token = margo_token_encode(MARGO_TOKEN_ACCESS, raw, sizeof(raw));
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return token;
}

int access_token_verify(const unsigned char key[ACCESS_TOKEN_KEY_LEN], const char *token,
			int64_t now, struct access_token *out, struct margo_error *err)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789-_";
	size_t plen = strlen(MARGO_TOKEN_ACCESS), n = 0;
	unsigned char *raw = NULL, expect[MAC_LEN];
	int rc;

	/* One spelling only: unpadded base64url of exactly RAW_LEN bytes (97 = 3 * 32 + 1, so
	 * the last character carries 4 unused bits, which must be zero). */
	if (strncmp(token, MARGO_TOKEN_ACCESS, plen) != 0 ||
	    strlen(token + plen) != (RAW_LEN * 4 + 2) / 3 ||
	    strspn(token + plen, alphabet) != (RAW_LEN * 4 + 2) / 3 ||
	    (strchr(alphabet, token[strlen(token) - 1]) - alphabet) % 16 != 0 ||
	    margo_base64_decode(token + plen, strlen(token + plen), &raw, &n) < 0 ||
	    n != RAW_LEN || raw[0] != VERSION) {
		rc = margo_error_set(err, MARGO_EAUTH, "unknown access token");
		goto out;
	}
	if (mac(key, raw, expect) < 0 || CRYPTO_memcmp(expect, raw + BODY_LEN, MAC_LEN) != 0) {
		rc = margo_error_set(err, MARGO_EAUTH, "unknown access token");
		goto out;
	}
	out->epoch = get_be64(raw + 17);
	out->expires_at = get_be64(raw + 25);
	uuid_unpack(raw + 1, out->device_id);
	if (out->expires_at <= now) {
		rc = margo_error_set(err, MARGO_EAUTH, "access token expired");
		goto out;
	}
	rc = 0;
out:
	if (raw != NULL)
		OPENSSL_cleanse(raw, n);
	free(raw);
	return rc;
}
