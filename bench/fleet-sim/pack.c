/* fleet-sim: reading a fetched packfile as a device does (fs_pack_*): every object inflated,
 * deltas (ofs-delta and ref-delta against objects of the same pack) applied, whole objects
 * hashed, the SHA-1 trailer checked; then commits and trees read to learn what a revision
 * holds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "fleet-sim.h"

#define OID_RAW 20
#define PACK_OBJECTS_MAX 100000u

enum { OBJ_COMMIT = 1, OBJ_TREE = 2, OBJ_BLOB = 3, OBJ_TAG = 4, OBJ_OFS_DELTA = 6,
       OBJ_REF_DELTA = 7 };

static const char *const type_names[] = { NULL, "commit", "tree", "blob", "tag" };

static int sha1(const void *a, size_t alen, const void *b, size_t blen,
		unsigned char out[OID_RAW])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 &&
		 EVP_DigestUpdate(c, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
		 EVP_DigestFinal_ex(c, out, NULL) == 1;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

static void hex_of(const unsigned char raw[OID_RAW], char hex[41])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < OID_RAW; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[40] = '\0';
}

/* Inflates one zlib stream at p (at most avail bytes) into a buffer of exactly size bytes;
 * *used gets the compressed length. */
static int inflate_object(const unsigned char *p, size_t avail, size_t size, unsigned char **out,
			  size_t *used)
{
	unsigned char *buf = malloc(size + 1);
	z_stream zs;
	int zr;

	if (buf == NULL)
		return -1;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		free(buf);
		return -1;
	}
	zs.next_in = (Bytef *)p;
	zs.avail_in = (uInt)avail;
	zs.next_out = buf;
	zs.avail_out = (uInt)size + 1; /* one spare byte catches an object longer than said */
	zr = inflate(&zs, Z_FINISH);
	*used = zs.total_in;
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.total_out != size) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* A delta's size header: little-endian groups of 7 bits. */
static int delta_size(const unsigned char **p, const unsigned char *end, size_t *out)
{
	size_t v = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (*p >= end || shift > 8 * sizeof(size_t) - 7)
			return -1;
		c = *(*p)++;
		v |= (size_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*out = v;
	return 0;
}

/* Applies a git delta to base: copy instructions (offset, size from the bits of the opcode)
 * and inserts, every range checked. */
static int delta_apply(const unsigned char *base, size_t base_len, const unsigned char *delta,
		       size_t delta_len, unsigned char **out, size_t *out_len)
{
	const unsigned char *p = delta, *end = delta + delta_len;
	size_t src, dst, at = 0;
	unsigned char *buf;

	if (delta_size(&p, end, &src) != 0 || delta_size(&p, end, &dst) != 0 ||
	    src != base_len || dst > FS_MAX_BODY || (buf = malloc(dst + 1)) == NULL)
		return -1;
	while (p < end) {
		unsigned char op = *p++;
		size_t off = 0, n = 0;

		if (op & 0x80) {
			for (unsigned i = 0; i < 4; i++)
				if (op & (1u << i)) {
					if (p >= end)
						goto fail;
					off |= (size_t)*p++ << (8 * i);
				}
			for (unsigned i = 0; i < 3; i++)
				if (op & (0x10u << i)) {
					if (p >= end)
						goto fail;
					n |= (size_t)*p++ << (8 * i);
				}
			if (n == 0)
				n = 0x10000;
			if (off > base_len || n > base_len - off || n > dst - at)
				goto fail;
			memcpy(buf + at, base + off, n);
		} else if (op != 0) {
			n = op;
			if (n > (size_t)(end - p) || n > dst - at)
				goto fail;
			memcpy(buf + at, p, n);
			p += n;
		} else {
			goto fail;
		}
		at += n;
	}
	if (at != dst)
		goto fail;
	*out = buf;
	*out_len = dst;
	return 0;
fail:
	free(buf);
	return -1;
}

/* Reads the object at *off: its header, the delta base reference, the inflated data. */
static int read_entry(const unsigned char *p, size_t len, size_t *off, struct fs_pack_obj *o)
{
	unsigned char c;
	unsigned shift = 4;
	size_t size, used;

	o->offset = *off;
	if (*off >= len)
		return -1;
	c = p[(*off)++];
	o->type = (c >> 4) & 7;
	size = c & 15;
	while (c & 0x80) {
		if (*off >= len || shift > 8 * sizeof(size_t) - 7)
			return -1;
		c = p[(*off)++];
		size |= (size_t)(c & 0x7f) << shift;
		shift += 7;
	}
	if (size > FS_MAX_BODY)
		return -1;
	if (o->type == OBJ_OFS_DELTA) {
		size_t back;

		if (*off >= len)
			return -1;
		c = p[(*off)++];
		back = c & 0x7f;
		while (c & 0x80) {
			if (*off >= len || back > SIZE_MAX >> 8)
				return -1;
			c = p[(*off)++];
			back = ((back + 1) << 7) | (c & 0x7f);
		}
		if (back == 0 || back > o->offset)
			return -1;
		o->base_offset = o->offset - back;
	} else if (o->type == OBJ_REF_DELTA) {
		if (len - *off < OID_RAW)
			return -1;
		memcpy(o->base_oid, p + *off, OID_RAW);
		*off += OID_RAW;
	} else if (o->type < OBJ_COMMIT || o->type > OBJ_TAG) {
		return -1;
	}
	if (inflate_object(p + *off, len - *off, size, &o->data, &used) != 0)
		return -1;
	o->len = size;
	*off += used;
	return 0;
}

static int hash_object(struct fs_pack_obj *o)
{
	char head[32];
	int hl = snprintf(head, sizeof(head), "%s %zu", type_names[o->type], o->len);

	return sha1(head, (size_t)hl + 1, o->data, o->len, o->oid);
}

/* The resolved object a delta refers to, or NULL while it is not (yet) resolved. */
static const struct fs_pack_obj *delta_base(const struct fs_pack *pk, const struct fs_pack_obj *o)
{
	for (size_t i = 0; i < pk->n; i++) {
		const struct fs_pack_obj *b = &pk->obj[i];

		if (b->type > OBJ_TAG)
			continue;
		if (o->type == OBJ_OFS_DELTA ? b->offset == o->base_offset :
		    memcmp(b->oid, o->base_oid, OID_RAW) == 0)
			return b;
	}
	return NULL;
}

/* Resolves deltas until none is left; a delta whose base is not in the pack fails. */
static int resolve_deltas(struct fs_pack *pk)
{
	size_t left;

	do {
		size_t done = 0;

		left = 0;
		for (size_t i = 0; i < pk->n; i++) {
			struct fs_pack_obj *o = &pk->obj[i];
			const struct fs_pack_obj *b;
			unsigned char *data;
			size_t len;

			if (o->type <= OBJ_TAG)
				continue;
			if ((b = delta_base(pk, o)) == NULL) {
				left++;
				continue;
			}
			if (delta_apply(b->data, b->len, o->data, o->len, &data, &len) != 0)
				return -1;
			free(o->data);
			o->data = data;
			o->len = len;
			o->type = b->type;
			if (hash_object(o) != 0)
				return -1;
			done++;
		}
		if (left > 0 && done == 0)
			return -1;
	} while (left > 0);
	return 0;
}

int fs_pack_parse(const unsigned char *p, size_t len, struct fs_pack *pk)
{
	unsigned char digest[OID_RAW];
	uint32_t version, count;
	size_t off = 12;

	memset(pk, 0, sizeof(*pk));
	if (len < 12 + OID_RAW || memcmp(p, "PACK", 4) != 0)
		return -1;
	version = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	count = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	if ((version != 2 && version != 3) || count == 0 || count > PACK_OBJECTS_MAX)
		return -1;
	len -= OID_RAW; /* objects end where the trailer starts */
	if (sha1(p, len, NULL, 0, digest) != 0 || memcmp(digest, p + len, OID_RAW) != 0)
		return -1;
	pk->obj = calloc(count, sizeof(*pk->obj));
	if (pk->obj == NULL)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		struct fs_pack_obj *o = &pk->obj[pk->n];

		if (read_entry(p, len, &off, o) != 0)
			goto fail;
		pk->n++;
		if (o->type <= OBJ_TAG && hash_object(o) != 0)
			goto fail;
	}
	if (off != len || resolve_deltas(pk) != 0)
		goto fail;
	return 0;
fail:
	fs_pack_free(pk);
	return -1;
}

void fs_pack_free(struct fs_pack *pk)
{
	for (size_t i = 0; pk->obj != NULL && i < pk->n; i++)
		free(pk->obj[i].data);
	free(pk->obj);
	memset(pk, 0, sizeof(*pk));
}

const struct fs_pack_obj *fs_pack_find(const struct fs_pack *pk, const char *oid,
				       unsigned type)
{
	char hex[41];

	for (size_t i = 0; i < pk->n; i++) {
		if (pk->obj[i].type != type)
			continue;
		hex_of(pk->obj[i].oid, hex);
		if (strcmp(hex, oid) == 0)
			return &pk->obj[i];
	}
	return NULL;
}

int fs_commit_tree(const struct fs_pack_obj *commit, char tree[41])
{
	const char *d = (const char *)commit->data;

	if (commit->len < 45 || memcmp(d, "tree ", 5) != 0)
		return -1;
	for (size_t i = 0; i < 40; i++) {
		char c = d[5 + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	memcpy(tree, d + 5, 40);
	tree[40] = '\0';
	return 0;
}

int fs_tree_each(const struct fs_pack_obj *tree,
		 int (*fn)(void *ctx, const char *mode, const char *name, const char *oid),
		 void *ctx)
{
	const char *p = (const char *)tree->data, *end = p + tree->len;
	char mode[8], name[256], oid[41];
	int rc;

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *nul = sp != NULL ? memchr(sp, '\0', (size_t)(end - sp)) : NULL;

		if (nul == NULL || end - nul < 1 + OID_RAW || (size_t)(sp - p) >= sizeof(mode) ||
		    (size_t)(nul - sp - 1) >= sizeof(name) || nul == sp + 1)
			return -1;
		memcpy(mode, p, (size_t)(sp - p));
		mode[sp - p] = '\0';
		memcpy(name, sp + 1, (size_t)(nul - sp - 1));
		name[nul - sp - 1] = '\0';
		hex_of((const unsigned char *)nul + 1, oid);
		if ((rc = fn(ctx, mode, name, oid)) != 0)
			return rc;
		p = nul + 1 + OID_RAW;
	}
	return 0;
}
