#include <stdlib.h>
#include <string.h>

#include "margo/hex.h"
#include "git_oid.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int git_oid_from_hex(const char *hex, unsigned char oid[GIT_SOURCE_OID_LEN])
{
	for (size_t i = 0; i < GIT_SOURCE_OID_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		oid[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void git_oid_to_hex(const unsigned char oid[GIT_SOURCE_OID_LEN], char hex[GIT_OID_HEX + 1])
{
	margo_hex_lower(oid, GIT_SOURCE_OID_LEN, hex);
}

int git_oids_push(struct git_oids *a, const unsigned char oid[GIT_SOURCE_OID_LEN],
		  struct margo_error *err)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		void *nd = realloc(a->ids, cap * sizeof(*a->ids));

		if (nd == NULL)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		a->ids = nd;
		a->cap = cap;
	}
	memcpy(a->ids[a->n++], oid, GIT_SOURCE_OID_LEN);
	return 0;
}

/* Object ids are uniformly distributed: their first bytes are a good hash. */
static size_t slot_of(const unsigned char *oid, size_t cap)
{
	uint64_t h;

	memcpy(&h, oid, sizeof(h));
	return (size_t)h & (cap - 1);
}

static struct git_oidmap_entry *find(const struct git_oidmap *m, const unsigned char *oid)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = slot_of(oid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct git_oidmap_entry *e = &m->slots[i];

		if (!e->used || memcmp(e->oid, oid, GIT_SOURCE_OID_LEN) == 0)
			return e;
	}
}

uint32_t *git_oidmap_get(const struct git_oidmap *m, const unsigned char oid[GIT_SOURCE_OID_LEN])
{
	struct git_oidmap_entry *e = find(m, oid);

	return e != NULL && e->used ? &e->value : NULL;
}

static int grow(struct git_oidmap *m)
{
	struct git_oidmap bigger = { NULL, m->cap ? m->cap * 2 : 64, 0 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].used)
			*find(&bigger, m->slots[i].oid) = m->slots[i];
	}
	bigger.n = m->n;
	free(m->slots);
	*m = bigger;
	return 0;
}

uint32_t *git_oidmap_put(struct git_oidmap *m, const unsigned char oid[GIT_SOURCE_OID_LEN],
			 int *added)
{
	struct git_oidmap_entry *e;

	if (added != NULL)
		*added = 0;
	/* At most 3/4 full, so probes stay short and find() always meets a free slot. */
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return NULL;
	e = find(m, oid);
	if (!e->used) {
		memcpy(e->oid, oid, GIT_SOURCE_OID_LEN);
		e->used = 1;
		e->value = 0;
		m->n++;
		if (added != NULL)
			*added = 1;
	}
	return &e->value;
}

void git_oidmap_free(struct git_oidmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
