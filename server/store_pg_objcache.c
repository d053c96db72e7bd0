/* The PostgreSQL backend's cache of Git objects, one per store (so per replica). Objects are
 * named by the SHA-1 of their content and never change once stored, so a copy can be served
 * without asking PostgreSQL again and no replica can make another's copy stale: no
 * invalidation is needed. A fetch of one new commit reads 4 objects or more; from the cache
 * it costs no round trip to the database for them (bench/pg.sh). SQLite needs no such
 * cache: its pages are in wfmd's own memory already.
 *
 * Bounded by bytes (PG_OBJCACHE_BYTES of content); the least recently used objects go first.
 * One mutex: an entry is copied out under it, which costs far less than the round trip it
 * saves. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

#define OBJCACHE_BUCKETS 4096

struct objent {
	unsigned char oid[STORE_OID_LEN];
	int type;
	size_t len;
	struct objent *hnext;           /* bucket chain */
	struct objent *prev, *next;     /* LRU list: head is the most recent */
	unsigned char data[];
};

struct pg_objcache {
	pthread_mutex_t lock;
	size_t bytes, max_bytes;
	struct objent *head, *tail;
	struct objent *buckets[OBJCACHE_BUCKETS];
	unsigned long hits, misses;
};

struct pg_objcache *pg_objcache_new(size_t max_bytes)
{
	struct pg_objcache *oc = calloc(1, sizeof(*oc));

	if (oc == NULL)
		return NULL;
	pthread_mutex_init(&oc->lock, NULL);
	oc->max_bytes = max_bytes;
	return oc;
}

void pg_objcache_free(struct pg_objcache *oc)
{
	struct objent *e, *next;

	if (oc == NULL)
		return;
	for (e = oc->head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	pthread_mutex_destroy(&oc->lock);
	free(oc);
}

/* The oid's first bytes are already uniformly distributed (SHA-1). */
static unsigned bucket_of(const unsigned char oid[STORE_OID_LEN])
{
	return ((unsigned)oid[0] << 8 | oid[1]) % OBJCACHE_BUCKETS;
}

static void lru_unlink(struct pg_objcache *oc, struct objent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		oc->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		oc->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct pg_objcache *oc, struct objent *e)
{
	e->prev = NULL;
	e->next = oc->head;
	if (oc->head != NULL)
		oc->head->prev = e;
	oc->head = e;
	if (oc->tail == NULL)
		oc->tail = e;
}

static struct objent **chain_find(struct pg_objcache *oc, const unsigned char oid[STORE_OID_LEN])
{
	struct objent **pp = &oc->buckets[bucket_of(oid)];

	while (*pp != NULL && memcmp((*pp)->oid, oid, STORE_OID_LEN) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

int pg_objcache_get(struct pg_objcache *oc, const unsigned char oid[STORE_OID_LEN], int *type,
		    unsigned char **data, size_t *len)
{
	struct objent *e;
	int found = 0;

	if (oc == NULL)
		return 0;
	pthread_mutex_lock(&oc->lock);
	e = *chain_find(oc, oid);
	if (e != NULL && (*data = malloc(e->len + 1)) != NULL) {
		memcpy(*data, e->data, e->len);
		(*data)[e->len] = '\0';
		*len = e->len;
		*type = e->type;
		lru_unlink(oc, e);
		lru_push(oc, e);
		found = 1;
		oc->hits++;
	} else {
		oc->misses++;
	}
	pthread_mutex_unlock(&oc->lock);
	return found;
}

void pg_objcache_put(struct pg_objcache *oc, const unsigned char oid[STORE_OID_LEN], int type,
		     const unsigned char *data, size_t len)
{
	struct objent *e, **pp;

	/* An object larger than an eighth of the cache would push out too much else. */
	if (oc == NULL || len > oc->max_bytes / 8)
		return;
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return;
	memcpy(e->oid, oid, STORE_OID_LEN);
	e->type = type;
	e->len = len;
	memcpy(e->data, data, len);
	pthread_mutex_lock(&oc->lock);
	pp = chain_find(oc, oid);
	if (*pp != NULL) {      /* another thread put it meanwhile */
		pthread_mutex_unlock(&oc->lock);
		free(e);
		return;
	}
	e->hnext = NULL;
	*pp = e;
	lru_push(oc, e);
	oc->bytes += len;
	while (oc->bytes > oc->max_bytes && oc->tail != NULL) {
		struct objent *old = oc->tail;

		lru_unlink(oc, old);
		pp = chain_find(oc, old->oid);
		*pp = old->hnext;
		oc->bytes -= old->len;
		free(old);
	}
	pthread_mutex_unlock(&oc->lock);
}

void pg_objcache_stats(struct pg_objcache *oc, size_t *bytes, unsigned long *hits,
		       unsigned long *misses)
{
	pthread_mutex_lock(&oc->lock);
	*bytes = oc->bytes;
	*hits = oc->hits;
	*misses = oc->misses;
	pthread_mutex_unlock(&oc->lock);
}
