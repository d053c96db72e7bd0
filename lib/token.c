/* Secrets, tokens and ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "margo/base64.h"
#include "margo/error.h"
#include "margo/token.h"
#include "margo/hex.h"

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_BODY_LEN 43 /* base64url, no padding, of 32 bytes */

char *margo_token_encode(const char *prefix, const void *data, size_t len)
{
	char *body, *token = NULL;
	size_t plen = strlen(prefix), blen;

	body = margo_base64_encode(data, len, MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	if (body == NULL)
		return NULL;
	blen = strlen(body);
	token = malloc(plen + blen + 1);
	if (token != NULL) {
		memcpy(token, prefix, plen);
		memcpy(token + plen, body, blen + 1);
	}
	margo_secret_free(body);
	return token;
}

char *margo_token_generate(const char *prefix)
{
	unsigned char rnd[TOKEN_RANDOM_BYTES];
	char *token = NULL;

	if (RAND_priv_bytes(rnd, sizeof(rnd)) == 1)
		token = margo_token_encode(prefix != NULL ? prefix : "", rnd, sizeof(rnd));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return token;
}

void margo_token_hash(const char *token, char out[MARGO_TOKEN_HASH_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)token, strlen(token), md);
	margo_hex_lower(md, sizeof(md), out);
}

int margo_token_equal(const char *a, const char *b)
{
	size_t la, lb, n, i;
	unsigned char diff = 0;

	if (a == NULL || b == NULL)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	n = la > lb ? la : lb;
	/* Walk the longer length; bytes past the end of the shorter string compare against 0,
	 * and the length check below catches the difference. */
	for (i = 0; i < n; i++) {
		unsigned char ca = i < la ? (unsigned char)a[i] : 0;
		unsigned char cb = i < lb ? (unsigned char)b[i] : 0;

		diff |= ca ^ cb;
	}
	if (la == lb && la > 0)
		diff |= (unsigned char)CRYPTO_memcmp(a, b, la);
	return diff == 0 && la == lb;
}

int margo_token_has_prefix(const char *token, const char *prefix)
{
	size_t plen, i;
	const char *body;

	if (token == NULL || prefix == NULL)
		return 0;
	plen = strlen(prefix);
	if (strncmp(token, prefix, plen) != 0)
		return 0;
	body = token + plen;
	if (strlen(body) != TOKEN_BODY_LEN)
		return 0;
	for (i = 0; i < TOKEN_BODY_LEN; i++) {
		char c = body[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

void margo_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

int margo_uuid_v4(char out[MARGO_UUID_LEN])
{
	unsigned char b[16];
	char hex[33];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return MARGO_ECRYPTO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	margo_hex_lower(b, sizeof(b), hex);
	snprintf(out, MARGO_UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return MARGO_OK;
}

int margo_uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}
