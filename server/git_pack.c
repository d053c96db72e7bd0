#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "git_oid.h"
#include "git_pack.h"

#define PACK_VERSION 2
#define ZLIB_LEVEL 1                    /* objects of kilobytes: speed over a few bytes */
#define ZLIB_WINDOW_BITS 12
#define ZLIB_MEM_LEVEL 5

enum pack_state {
	PACK_HEADER = 0,
	PACK_NEXT,                      /* start the next object or the trailer */
	PACK_DEFLATE,                   /* the current object's zlib stream */
	PACK_TRAILER,
	PACK_DONE,
};

struct git_pack {
	struct git_source *src;
	struct git_oids objects;
	size_t next;                    /* objects started */
	size_t bytes;                   /* pack bytes written */
	enum pack_state state;
	EVP_MD_CTX *sha;
	z_stream zs;
	int zs_init;
	unsigned char *obj;             /* the current object's content */
	unsigned char small[32];        /* a header or the trailer waiting to be copied out */
	size_t small_len;
	size_t small_off;
};

int git_pack_new(struct git_source *src, struct git_oids *objects, struct git_pack **out,
		 struct margo_error *err)
{
	struct git_pack *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	p->src = src;
	p->objects = *objects;
	memset(objects, 0, sizeof(*objects));
	p->sha = EVP_MD_CTX_new();
	if (p->sha == NULL || EVP_DigestInit_ex(p->sha, EVP_sha1(), NULL) != 1) {
		git_pack_free(p);
		return margo_error_set(err, MARGO_ECRYPTO, "SHA-1 unavailable");
	}
	if (deflateInit2(&p->zs, ZLIB_LEVEL, Z_DEFLATED, ZLIB_WINDOW_BITS, ZLIB_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		git_pack_free(p);
		return margo_error_set(err, MARGO_ENOMEM, "zlib: out of memory");
	}
	p->zs_init = 1;
	*out = p;
	return 0;
}

/* Queues a header (hashed) to be copied out. */
static int queue_hashed(struct git_pack *p, size_t len, struct margo_error *err)
{
	p->small_len = len;
	p->small_off = 0;
	if (EVP_DigestUpdate(p->sha, p->small, len) != 1)
		return margo_error_set(err, MARGO_ECRYPTO, "SHA-1 failed");
	return 0;
}

static int start_header(struct git_pack *p, struct margo_error *err)
{
	uint32_t n = (uint32_t)p->objects.n;

	memcpy(p->small, "PACK", 4);
	p->small[4] = 0;
	p->small[5] = 0;
	p->small[6] = 0;
	p->small[7] = PACK_VERSION;
	p->small[8] = (unsigned char)(n >> 24);
	p->small[9] = (unsigned char)(n >> 16);
	p->small[10] = (unsigned char)(n >> 8);
	p->small[11] = (unsigned char)n;
	p->state = PACK_NEXT;
	return queue_hashed(p, 12, err);
}

/* Reads the next object and queues its type-and-size header; or, after the last one, the
 * trailer. */
static int start_object(struct git_pack *p, struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 0, n = 0;
	int type = 0, rc;

	if (p->next == p->objects.n) {
		if (EVP_DigestFinal_ex(p->sha, md, &mdlen) != 1 || mdlen != GIT_SOURCE_OID_LEN)
			return margo_error_set(err, MARGO_ECRYPTO, "SHA-1 failed");
		memcpy(p->small, md, GIT_SOURCE_OID_LEN);
		p->small_len = GIT_SOURCE_OID_LEN;
		p->small_off = 0;
		p->state = PACK_TRAILER;
		return 0;
	}
	rc = p->src->read(p->src->ctx, p->objects.ids[p->next], &type, &p->obj, &len, NULL);
	if (rc < 0) {
		git_oid_to_hex(p->objects.ids[p->next], hex);
		return margo_error_set(err, rc, "object %s: %s", hex, margo_strerror(rc));
	}
	if (type < GIT_SOURCE_COMMIT || type > GIT_SOURCE_TAG)
		return margo_error_set(err, MARGO_EINVAL, "object of unknown type %d", type);
	p->next++;
	/* type and size: 3 type bits and 4 size bits, then 7 size bits a byte */
	p->small[n] = (unsigned char)(type << 4 | (len & 15));
	for (size_t rest = len >> 4; rest > 0; rest >>= 7) {
		p->small[n++] |= 0x80;
		p->small[n] = (unsigned char)(rest & 127);
	}
	n++;
	if (deflateReset(&p->zs) != Z_OK)
		return margo_error_set(err, MARGO_EIO, "zlib reset failed");
	p->zs.next_in = p->obj;
	p->zs.avail_in = (uInt)len;
	p->state = PACK_DEFLATE;
	return queue_hashed(p, n, err);
}

/* Deflates the current object into buf: bytes written. */
static ssize_t deflate_some(struct git_pack *p, unsigned char *buf, size_t max,
			    struct margo_error *err)
{
	size_t out;
	int zr;

	p->zs.next_out = buf;
	p->zs.avail_out = (uInt)(max > 1u << 30 ? 1u << 30 : max);
	out = p->zs.avail_out;
	zr = deflate(&p->zs, Z_FINISH);
	if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
		return margo_error_set(err, MARGO_EIO, "zlib deflate failed");
	out -= p->zs.avail_out;
	if (out > 0 && EVP_DigestUpdate(p->sha, buf, out) != 1)
		return margo_error_set(err, MARGO_ECRYPTO, "SHA-1 failed");
	if (zr == Z_STREAM_END) {
		free(p->obj);
		p->obj = NULL;
		p->state = PACK_NEXT;
	}
	return (ssize_t)out;
}

ssize_t git_pack_read(struct git_pack *p, unsigned char *buf, size_t max,
		      struct margo_error *err)
{
	size_t n = 0;
	ssize_t d;
	int rc;

	while (n < max && p->state != PACK_DONE) {
		if (p->small_off < p->small_len) {
			size_t k = p->small_len - p->small_off;

			if (k > max - n)
				k = max - n;
			memcpy(buf + n, p->small + p->small_off, k);
			p->small_off += k;
			n += k;
			continue;
		}
		switch (p->state) {
		case PACK_HEADER:
			rc = start_header(p, err);
			break;
		case PACK_NEXT:
			rc = start_object(p, err);
			break;
		case PACK_DEFLATE:
			d = deflate_some(p, buf + n, max - n, err);
			rc = d < 0 ? (int)d : 0;
			if (d > 0)
				n += (size_t)d;
			break;
		default:
			p->state = PACK_DONE;
			rc = 0;
			break;
		}
		if (rc < 0)
			return rc;
	}
	p->bytes += n;
	return (ssize_t)n;
}

size_t git_pack_objects_done(const struct git_pack *p)
{
	return p->next;
}

size_t git_pack_bytes_done(const struct git_pack *p)
{
	return p->bytes;
}

void git_pack_free(struct git_pack *p)
{
	if (p == NULL)
		return;
	if (p->zs_init)
		deflateEnd(&p->zs);
	EVP_MD_CTX_free(p->sha);
	free(p->obj);
	free(p->objects.ids);
	free(p);
}
