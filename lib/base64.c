/* Base64 (RFC 4648) in both alphabets, padded or not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "margo/base64.h"
#include "margo/error.h"

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *margo_base64_encode(const void *data, size_t len, int flags)
{
	const unsigned char *in = data;
	const char *alpha = (flags & MARGO_BASE64_URL) ? b64_url : b64_std;
	int pad = !(flags & MARGO_BASE64_NOPAD);
	size_t cap, i, o = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	cap = (len + 2) / 3 * 4 + 1;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;

		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;

		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

/* Value of c in either alphabet, or -1. *kind: 0 common, 1 standard-only, 2 URL-only. */
static int b64_value(unsigned char c, int *kind)
{
	*kind = 0;
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '/') {
		*kind = 1;
		return c == '+' ? 62 : 63;
	}
	if (c == '-' || c == '_') {
		*kind = 2;
		return c == '-' ? 62 : 63;
	}
	return -1;
}

static int is_b64_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Rules: white space anywhere is skipped; padding, when present, must complete the last
 * quantum to 4 characters and nothing but white space may follow it; a lone trailing
 * character (length 1 mod 4) is invalid. Non-zero unused trailing bits are accepted
 * (many encoders in the wild do not clear them), consistently for padded and unpadded input.
 */
int margo_base64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf;
	size_t i, o = 0, nchars = 0, npad = 0;
	unsigned acc = 0;
	int alphabet = 0, bits = 0;

	*out = NULL;
	*out_len = 0;
	buf = malloc(in_len / 4 * 3 + 4);
	if (buf == NULL)
		return MARGO_ENOMEM;
	for (i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];
		int kind, v;

		if (is_b64_space(c))
			continue;
		if (c == '=') {
			npad++;
			continue;
		}
		if (npad > 0)
			goto bad; /* data after padding */
		v = b64_value(c, &kind);
		if (v < 0)
			goto bad;
		if (kind != 0) {
			if (alphabet != 0 && alphabet != kind)
				goto bad;
			alphabet = kind;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		nchars++;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (nchars % 4 == 1)
		goto bad;
	if (npad > 0 && (npad > 2 || (nchars + npad) % 4 != 0))
		goto bad;
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return MARGO_OK;
bad:
	free(buf);
	return MARGO_EINVAL;
}
