#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

/* HMAC-SHA256 (RFC 2104) with the key's two padded blocks hashed once, at start: a token
 * costs two context copies and two short digests instead of a MAC fetch and key set-up. */
struct access_key {
	EVP_MD *md;
	EVP_MD_CTX *inner;              /* SHA-256 state after (key ^ ipad) */
	EVP_MD_CTX *outer;              /* SHA-256 state after (key ^ opad) */
};

static int pad_init(EVP_MD_CTX *ctx, const EVP_MD *md, const unsigned char *key,
		    unsigned char fill)
{
	unsigned char block[64];
	int ok;

	memset(block, fill, sizeof(block));
	for (size_t i = 0; i < ACCESS_TOKEN_KEY_LEN; i++)
		block[i] ^= key[i];
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, block, sizeof(block)) == 1;
	OPENSSL_cleanse(block, sizeof(block));
	return ok ? 0 : -1;
}

int access_key_new(const unsigned char raw[ACCESS_TOKEN_KEY_LEN], struct access_key **out,
		   struct margo_error *err)
{
	struct access_key *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	k->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	k->inner = EVP_MD_CTX_new();
	k->outer = EVP_MD_CTX_new();
	if (k->md == NULL || k->inner == NULL || k->outer == NULL ||
	    pad_init(k->inner, k->md, raw, 0x36) < 0 || pad_init(k->outer, k->md, raw, 0x5c) < 0) {
		access_key_free(k);
		return margo_error_set(err, MARGO_ECRYPTO, "cannot set up the access token key");
	}
	*out = k;
	return 0;
}

void access_key_free(struct access_key *k)
{
	if (k == NULL)
		return;
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	EVP_MD_free(k->md);
	free(k);
}

static int mac(const struct access_key *k, const unsigned char *body,
	       unsigned char out[MAC_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char ih[MAC_LEN];
	unsigned int n = 0, m = 0;
	int ok;

	ok = c != NULL && EVP_MD_CTX_copy_ex(c, k->inner) == 1 &&
	     EVP_DigestUpdate(c, body, BODY_LEN) == 1 && EVP_DigestFinal_ex(c, ih, &n) == 1 &&
	     n == MAC_LEN && EVP_MD_CTX_copy_ex(c, k->outer) == 1 &&
	     EVP_DigestUpdate(c, ih, sizeof(ih)) == 1 && EVP_DigestFinal_ex(c, out, &m) == 1 &&
	     m == MAC_LEN;
	EVP_MD_CTX_free(c);
	OPENSSL_cleanse(ih, sizeof(ih));
	return ok ? 0 : -1;
}

char *access_token_mint(const struct access_key *key,
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

int access_token_verify(const struct access_key *key, const char *token,
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
