/* depot.c: the stack depot. Each distinct stack is stored once, append-only,
 * and named by a 32-bit id (1, 2, ...). Lookups of known stacks take no lock:
 * the index is an open-addressed array of (hash, id) published with release
 * stores and replaced, never modified in place, when it grows. Inserting a new
 * stack takes the one depot lock. All memory comes from mmap.
 */
#include <string.h>

#include "agent.h"

#define CHUNK (1u << 20)      /* frame storage grows by 1 MiB */
#define DIR_PAGE 4096u        /* ids per directory page */
#define DIR_PAGES 4096u       /* so at most 16M distinct stacks */

struct entry {
	uint32_t hash;
	uint32_t n;
	uintptr_t pcs[];
};

struct index {
	uint64_t *slots; /* hash << 32 | id, 0 = empty */
	size_t mask;
};

static la_lock_t lock;
static struct index *volatile cur;  /* published index */
static LA_BIG struct entry **dir[DIR_PAGES];
static uint32_t next_id = 1;        /* guarded by lock; read racily for counts */
static char *chunk;
static size_t chunk_used, total_bytes;

/* Each frame mixed on its own (a position-salted, non-linear mix), then
 * summed: the mixes pipeline, about two cycles a frame, where a chained hash
 * would wait on every multiply in turn. The non-linear step matters: a plain
 * sum of pc*K collides for any two stacks whose addresses sum alike. */
static uint32_t hash_pcs(const uintptr_t *pcs, int n)
{
	uint64_t h = (uint64_t)n;
	for (int i = 0; i < n; i++) {
		uint64_t x = pcs[i] + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
		x ^= x >> 31;
		x *= 0xff51afd7ed558ccdull;
		h += x ^ (x >> 29);
	}
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return (uint32_t)h | 1; /* never 0, so a slot is never all-zero */
}

static struct entry *entry_of(uint32_t id)
{
	struct entry **page = __atomic_load_n(&dir[id / DIR_PAGE], __ATOMIC_ACQUIRE);
	return page ? __atomic_load_n(&page[id % DIR_PAGE], __ATOMIC_ACQUIRE) : NULL;
}

static uint32_t lookup(const struct index *ix, uint32_t h, const uintptr_t *pcs, int n)
{
	if (!ix)
		return 0;
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		uint64_t s = __atomic_load_n(&ix->slots[i], __ATOMIC_ACQUIRE);
		if (s == 0)
			return 0;
		if ((uint32_t)(s >> 32) != h)
			continue;
		struct entry *e = entry_of((uint32_t)s);
		if (e && e->n == (uint32_t)n && memcmp(e->pcs, pcs, sizeof(*pcs) * (size_t)n) == 0)
			return (uint32_t)s;
	}
}

static void index_add(struct index *ix, uint32_t h, uint32_t id)
{
	size_t i = h & ix->mask;
	while (ix->slots[i])
		i = (i + 1) & ix->mask;
	__atomic_store_n(&ix->slots[i], (uint64_t)h << 32 | id, __ATOMIC_RELEASE);
}

/* Keeps the index under half full; the old index stays mapped for readers
 * still walking it (its memory is at most the size of the new one). The
 * slots follow their header in one mapping, and the first index (256 slots)
 * fits one page: hashes scatter a few stacks over every page of an index, so
 * a small program's stacks touch one page instead of five. */
static int index_reserve_locked(uint32_t count)
{
	struct index *ix = cur;
	if (ix && (size_t)count * 2 < ix->mask + 1)
		return 0;
	size_t cap = ix ? (ix->mask + 1) * 2 : 256;
	struct index *nx = la_map(sizeof(*nx) + cap * sizeof(uint64_t));
	if (!nx)
		return -1;
	nx->slots = (uint64_t *)(nx + 1);
	nx->mask = cap - 1;
	total_bytes += cap * sizeof(uint64_t);
	for (uint32_t id = 1; id < next_id; id++)
		index_add(nx, entry_of(id)->hash, id);
	__atomic_store_n(&cur, nx, __ATOMIC_RELEASE);
	return 0;
}

static struct entry *store_locked(uint32_t id, uint32_t h, const uintptr_t *pcs, int n)
{
	size_t need = (sizeof(struct entry) + sizeof(*pcs) * (size_t)n + 7) & ~(size_t)7;
	if (!chunk || chunk_used + need > CHUNK) {
		chunk = la_map(CHUNK);
		chunk_used = 0;
		if (!chunk)
			return NULL;
		total_bytes += CHUNK;
	}
	if (!dir[id / DIR_PAGE]) {
		struct entry **page = la_map(DIR_PAGE * sizeof(*page));
		if (!page)
			return NULL;
		total_bytes += DIR_PAGE * sizeof(*page);
		__atomic_store_n(&dir[id / DIR_PAGE], page, __ATOMIC_RELEASE);
	}
	struct entry *e = (struct entry *)(chunk + chunk_used);
	chunk_used += need;
	e->hash = h;
	e->n = (uint32_t)n;
	memcpy(e->pcs, pcs, sizeof(*pcs) * (size_t)n);
	__atomic_store_n(&dir[id / DIR_PAGE][id % DIR_PAGE], e, __ATOMIC_RELEASE);
	return e;
}

/* Known stack: a hash and a few compares, no lock. New stack: the lock. */
uint32_t la_depot_put(const uintptr_t *pcs, int n)
{
	uint32_t h = hash_pcs(pcs, n);
	uint32_t id = lookup(__atomic_load_n(&cur, __ATOMIC_ACQUIRE), h, pcs, n);
	if (LA_LIKELY(id))
		return id;

	/* First sight of this stack: make sure its modules are on record before
	 * taking our lock (la_modules_note may enter the loader). */
	la_modules_note(pcs, n);
	la_lock(&lock);
	id = lookup(cur, h, pcs, n);
	if (!id && next_id < DIR_PAGE * DIR_PAGES && index_reserve_locked(next_id) == 0 &&
	    store_locked(next_id, h, pcs, n)) {
		id = next_id++;
		index_add(cur, h, id);
	}
	la_unlock(&lock);
	return id; /* 0 when out of memory: the block is kept, without a stack */
}

const uintptr_t *la_depot_get(uint32_t id, int *n)
{
	struct entry *e = id && id < DIR_PAGE * DIR_PAGES ? entry_of(id) : NULL;
	if (!e)
		return NULL;
	*n = (int)e->n;
	return e->pcs;
}

uint32_t la_depot_count(void)
{
	return __atomic_load_n(&next_id, __ATOMIC_ACQUIRE) - 1;
}

size_t la_depot_bytes(void)
{
	return total_bytes;
}

void la_depot_lock_all(void)
{
	la_lock(&lock);
}

void la_depot_unlock_all(void)
{
	la_unlock(&lock);
}
