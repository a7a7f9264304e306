/* table.c: the live-allocation table: every block the program holds, by
 * address, in 16 bytes (see the slot drawing in agent.h). 256 shards picked by
 * address region, each with its own lock, so threads rarely meet; each shard is
 * an open-addressed array (linear probing, backward-shift deletion) from mmap,
 * grown by half at 70% load, so the table costs 23-35 bytes per live block.
 * Once the table outgrows the caches, slots follow address order within
 * small windows, so neighbouring blocks share cache lines (see home()).
 */
#include <string.h>

#include "agent.h"

#define NSHARDS_LOG 8
#define NSHARDS (1 << NSHARDS_LOG)
#define INIT_CAP 256 /* slots per shard at start: 4 KiB; capacities stay multiples */
#define ADDR_MASK 0xffffffffffffull
#define HUGE_SIZE 0xffffffffu
#define NHUGE 256

struct slot {
	uint64_t key;  /* flags << 48 | address */
	uint64_t val;  /* stack << 32 | size (HUGE_SIZE: see huge[]) */
};

/* Two cache lines: the one every operation writes (lock, count) and the one
 * it only reads (the array), so la_table_prefetch and the probes of other
 * threads' operations do not pull a line that keeps changing hands. */
struct shard {
	la_lock_t lock;
	size_t count;
	struct slot *slots __attribute__((aligned(64)));
	size_t cap;
	unsigned shift; /* 0: slots by hash; else by address, see home() */
	int unordered;  /* its blocks did not fit an order once: by hash for good */
} __attribute__((aligned(64)));

static struct shard shards[NSHARDS];
static la_lock_t huge_lock; /* blocks of 4 GiB and more: rare, so one list */
static struct { uintptr_t addr; uint64_t size; } huge[NHUGE];
unsigned la_generation;

static inline uint64_t mix(uintptr_t a)
{
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* Shards by 64 KiB granule, not by block: a thread's allocator arena (glibc,
 * jemalloc and tcmalloc all keep per-thread caches) then maps to shards of
 * its own, so threads on different cores rarely share a shard's cache line. */
static inline struct shard *shard_of(uintptr_t a)
{
	return &shards[(uint64_t)(a >> 16) * 0x9e3779b97f4a7c15ull >> (64 - NSHARDS_LOG)];
}

static void huge_set(uintptr_t addr, uint64_t size)
{
	la_lock(&huge_lock);
	for (int i = 0; i < NHUGE; i++) {
		if (huge[i].addr == 0 || huge[i].addr == addr) {
			huge[i].addr = addr;
			huge[i].size = size;
			break;
		}
	}
	la_unlock(&huge_lock);
}

/* Returns the size and, when take, forgets the entry. */
static uint64_t huge_get(uintptr_t addr, int take)
{
	uint64_t size = HUGE_SIZE;
	la_lock(&huge_lock);
	for (int i = 0; i < NHUGE; i++) {
		if (huge[i].addr == addr) {
			size = huge[i].size;
			if (take)
				huge[i].addr = 0;
			break;
		}
	}
	la_unlock(&huge_lock);
	return size;
}

static void decode(const struct slot *s, struct la_block *b, int take_huge)
{
	b->addr = (uintptr_t)(s->key & ADDR_MASK);
	b->flags = (uint16_t)(s->key >> 48);
	b->stack = (uint32_t)(s->val >> 32);
	b->size = (uint32_t)s->val;
	if (b->size == HUGE_SIZE)
		b->size = huge_get(b->addr, take_huge);
}

/* The home slot of an address in an array of cap slots: a hash scaled to
 * [0, cap) by one wide multiply, so cap need not be a power of two and the
 * array can grow by half rather than double.
 *
 * shift 0: the address's own hash. Otherwise (a big table, see
 * order_shift) by address: the span of 16 << shift bytes around the block
 * has its own window of 16 slots, four cache lines, where the block goes by
 * its offset in steps of 1 << shift bytes. Blocks the program makes or
 * frees one after another mostly lie side by side, so their slots share
 * lines: on python3 the table's misses from the last level of cache fall by
 * about a quarter (by a cache model of its 5.8M operations), and its time
 * under the agent by about a tenth. */
static inline size_t home(uintptr_t a, size_t cap, unsigned shift)
{
	if (!shift)
		return (size_t)((unsigned __int128)mix(a) * cap >> 64);
	/* the hash's top 8 bits are close to the shard's own (shard_of): without
	 * them, so that windows spread over the whole array */
	size_t window = (size_t)((unsigned __int128)(mix(a >> (shift + 4)) << 8) * (cap / 4) >> 64) * 4;
	size_t i = window + ((a >> shift) & 15);
	return i >= cap ? i - cap : i;
}

/* The step for ordered slots, from the mean size (each counted up to 1 KiB)
 * of the n blocks of a shard: about half a block plus its allocator header,
 * so a window holds at most half as many blocks as slots and its run stays
 * short even where blocks lie densely. A fixed step does not: 64 bytes made
 * runs of a 1M-block heap of 16-byte blocks twice as slow to walk. Blocks
 * of mixed sizes can still crowd a window: see place_all and LONG_RUN. */
static unsigned order_shift(size_t sum, size_t n)
{
	size_t mean = (n ? sum / n : 0) + 16;
	unsigned shift = 4;
	while ((size_t)4 << shift <= mean) /* at most 9: sizes count up to 1 KiB */
		shift++;
	return shift;
}

/* An insert that walks this far in an ordered shard puts the shard back to
 * slots by hash for good (rehash_locked): its blocks no longer match the
 * step, and a shard that changed once may change again. */
#define LONG_RUN 64

static inline size_t next(size_t i, size_t cap)
{
	return i + 1 == cap ? 0 : i + 1;
}

/* Max load 70%, growth by half (rounded to a page of slots): a grown array is
 * at least 46% full, so at most 35 bytes a block, and a probe for an absent
 * address (every insert) walks about 6 slots at the worst load, where 80%
 * and doubling walked 13. */
static inline int full(size_t count, size_t cap)
{
	return count * 10 > cap * 7;
}

/* Puts the members of src[0, n) (empty slots skipped) into the empty array
 * slots of cap slots; returns the slots walked past their homes, in all. */
static size_t place_all(struct slot *slots, size_t cap, unsigned shift, const struct slot *src, size_t n)
{
	size_t walked = 0;
	for (size_t k = 0; k < n; k++) {
		if (!src[k].key)
			continue;
		size_t i = home((uintptr_t)(src[k].key & ADDR_MASK), cap, shift);
		for (; slots[i].key; walked++)
			i = next(i, cap);
		slots[i] = src[k];
	}
	return walked;
}

/* Growth in a big table: the shard's members go to a scratch array, its own
 * array is extended with mremap and refilled. Only the added part is new
 * memory, so a shard grown to N slots has faulted in about N slots' pages,
 * not the ~3N of every array it outgrew (on a 5M-block heap, two thirds of
 * the agent's page faults; on python3, 36k of its 56k). One scratch serves
 * all shards: growths are rare and brief. It stays mapped, at most one
 * shard's size, so a small table, where a few page faults cost nothing,
 * grows into new arrays instead and keeps small programs small. */
#define REGROW_MIN ((size_t)4 << 20 >> 4) /* slots of the whole table (4 MiB) */
static la_lock_t scratch_lock;
static struct slot *scratch;
static size_t scratch_cap;

/* Refills the shard's array, extended to cap slots, in address order unless
 * the shard is unordered or the order walks more than hashing would (sizes
 * too mixed for one step); the shard is then unordered. */
static struct slot *regrow_locked(struct shard *sh, size_t cap)
{
	size_t bytes = sh->cap * sizeof(struct slot), n = 0, sum = 0;
	struct slot *ns = NULL;

	la_lock(&scratch_lock);
	if (scratch_cap < sh->count) {
		struct slot *s = la_map(bytes);
		if (!s)
			goto out;
		la_unmap(scratch, scratch_cap * sizeof(*s));
		scratch = s;
		scratch_cap = sh->cap;
	}
	for (size_t i = 0; i < sh->cap; i++) {
		if (sh->slots[i].key) {
			uint32_t size = (uint32_t)sh->slots[i].val;
			sum += size < 1024 ? size : 1024;
			scratch[n++] = sh->slots[i];
		}
	}
	unsigned shift = sh->unordered ? 0 : order_shift(sum, n);
	ns = la_remap(sh->slots, bytes, cap * sizeof(*ns));
	if (ns) {
		memset(ns, 0, bytes); /* the added part comes zeroed */
		la_prefault((char *)ns + bytes, cap * sizeof(*ns) - bytes);
		if (place_all(ns, cap, shift, scratch, n) > 2 * n) { /* hashing walks ~1 a block */
			memset(ns, 0, cap * sizeof(*ns));
			shift = 0;
			sh->unordered = 1;
			place_all(ns, cap, 0, scratch, n);
		}
		__atomic_store_n(&sh->shift, shift, __ATOMIC_RELAXED); /* la_table_prefetch reads it */
	}
out:
	la_unlock(&scratch_lock);
	return ns;
}

static int grow_locked(struct shard *sh)
{
	size_t cap = sh->cap ? (sh->cap + sh->cap / 2 + INIT_CAP - 1) / INIT_CAP * INIT_CAP : INIT_CAP;
	struct slot *ns;
	if (sh->cap && la_table_bytes() / sizeof(struct slot) >= REGROW_MIN) {
		ns = regrow_locked(sh, cap);
	} else {
		ns = la_map(cap * sizeof(*ns));
		if (ns) {
			la_prefault(ns, cap * sizeof(*ns));
			place_all(ns, cap, sh->shift, sh->slots, sh->cap);
			la_unmap(sh->slots, sh->cap * sizeof(*ns));
		}
	}
	if (!ns)
		return -1; /* the shard is as it was */
	__atomic_store_n(&sh->slots, ns, __ATOMIC_RELAXED); /* la_table_prefetch reads them */
	__atomic_store_n(&sh->cap, cap, __ATOMIC_RELAXED);
	return 0;
}

/* The shard's array refilled in place, by hash for good; as it was when
 * that fails. */
static void rehash_locked(struct shard *sh)
{
	sh->unordered = 1;
	struct slot *ns = regrow_locked(sh, sh->cap);
	if (ns)
		__atomic_store_n(&sh->slots, ns, __ATOMIC_RELAXED);
}

/* Returns the slot index of addr, or -1. */
static long find_locked(const struct shard *sh, uintptr_t addr)
{
	if (!sh->cap)
		return -1;
	for (size_t i = home(addr, sh->cap, sh->shift);; i = next(i, sh->cap)) {
		uint64_t k = sh->slots[i].key;
		if (!k)
			return -1;
		if ((k & ADDR_MASK) == addr)
			return (long)i;
	}
}

/* Backward-shift deletion: pull later members of the run into the hole. */
static void erase_locked(struct shard *sh, size_t hole)
{
	size_t cap = sh->cap;
	for (size_t j = next(hole, cap); sh->slots[j].key; j = next(j, cap)) {
		size_t h = home((uintptr_t)(sh->slots[j].key & ADDR_MASK), cap, sh->shift);
		/* j may move to hole unless its home lies in (hole, j] cyclically */
		size_t dh = j >= h ? j - h : j + cap - h;
		size_t dj = j >= hole ? j - hole : j + cap - hole;
		if (dh >= dj) {
			sh->slots[hole] = sh->slots[j];
			hole = j;
		}
	}
	sh->slots[hole].key = 0;
	sh->slots[hole].val = 0;
	sh->count--;
}

void la_table_prefetch(uintptr_t addr)
{
	struct shard *sh = shard_of(addr);
	struct slot *slots = __atomic_load_n(&sh->slots, __ATOMIC_RELAXED);
	size_t cap = __atomic_load_n(&sh->cap, __ATOMIC_RELAXED);
	unsigned shift = __atomic_load_n(&sh->shift, __ATOMIC_RELAXED);
	if (cap) /* a torn read of slots and cap may point anywhere: prefetch never faults */
		__builtin_prefetch(&slots[home(addr, cap, shift)], 1);
}

int la_table_insert(uintptr_t addr, uint64_t size, uint32_t stack, uint16_t flags)
{
	struct shard *sh = shard_of(addr);
	struct slot s = { (uint64_t)flags << 48 | addr,
			  (uint64_t)stack << 32 | (size >= HUGE_SIZE ? HUGE_SIZE : size) };
	int rc = 0;

	if (LA_UNLIKELY(size >= HUGE_SIZE))
		huge_set(addr, size);
	la_lock(&sh->lock);
	if (full(sh->count + 1, sh->cap) && grow_locked(sh) < 0 && sh->count + 1 >= sh->cap) {
		rc = -1;
	} else {
		/* one walk: to addr (the allocator reused an address whose free we
		 * missed: overwrite) or to the first empty slot, its place */
		size_t cap = sh->cap, i = home(addr, cap, sh->shift), walked = 0;
		uint64_t k;
		for (; (k = sh->slots[i].key) != 0 && (k & ADDR_MASK) != addr; walked++)
			i = next(i, cap);
		sh->count += k == 0;
		sh->slots[i] = s;
		if (LA_UNLIKELY(walked > LONG_RUN) && sh->shift)
			rehash_locked(sh);
	}
	la_unlock(&sh->lock);
	return rc;
}

int la_table_remove(uintptr_t addr, struct la_block *out)
{
	struct shard *sh = shard_of(addr);
	la_table_prefetch(addr); /* the slot's miss overlaps the lock's exchange */
	la_lock(&sh->lock);
	long i = find_locked(sh, addr);
	if (i >= 0) {
		struct slot s = sh->slots[i];
		erase_locked(sh, (size_t)i);
		la_unlock(&sh->lock);
		decode(&s, out, 1);
		return 1;
	}
	la_unlock(&sh->lock);
	return 0;
}

int la_table_find(uintptr_t addr, struct la_block *out)
{
	struct shard *sh = shard_of(addr);
	la_lock(&sh->lock);
	long i = find_locked(sh, addr);
	struct slot s = i >= 0 ? sh->slots[i] : (struct slot){ 0, 0 };
	la_unlock(&sh->lock);
	if (i < 0)
		return 0;
	decode(&s, out, 0);
	return 1;
}

int la_table_set_flags(uintptr_t addr, uint16_t set)
{
	struct shard *sh = shard_of(addr);
	la_lock(&sh->lock);
	long i = find_locked(sh, addr);
	if (i >= 0)
		sh->slots[i].key |= (uint64_t)set << 48;
	la_unlock(&sh->lock);
	return i >= 0;
}

void la_table_lock_all(void)
{
	for (int i = 0; i < NSHARDS; i++)
		la_lock(&shards[i].lock);
	la_lock(&huge_lock);
}

void la_table_unlock_all(void)
{
	la_unlock(&huge_lock);
	for (int i = NSHARDS - 1; i >= 0; i--)
		la_unlock(&shards[i].lock);
}

/* Reads huge[] directly: the caller holds huge_lock through lock_all. */
void la_table_foreach_locked(la_block_fn fn, void *ctx)
{
	for (int i = 0; i < NSHARDS; i++) {
		const struct shard *sh = &shards[i];
		for (size_t j = 0; j < sh->cap; j++) {
			const struct slot *s = &sh->slots[j];
			if (!s->key)
				continue;
			struct la_block b = { (uintptr_t)(s->key & ADDR_MASK), (uint32_t)s->val,
					      (uint32_t)(s->val >> 32), (uint16_t)(s->key >> 48) };
			if (b.size == HUGE_SIZE)
				for (int k = 0; k < NHUGE; k++)
					if (huge[k].addr == b.addr)
						b.size = huge[k].size;
			fn(&b, ctx);
		}
	}
}

void la_table_clear_flags_locked(uint16_t clear)
{
	uint64_t keep = ~((uint64_t)clear << 48);
	for (int i = 0; i < NSHARDS; i++)
		for (size_t j = 0; j < shards[i].cap; j++)
			shards[i].slots[j].key &= keep;
}

size_t la_table_count_locked(void)
{
	size_t n = 0;
	for (int i = 0; i < NSHARDS; i++)
		n += shards[i].count;
	return n;
}

size_t la_table_bytes(void)
{
	size_t n = 0;
	for (int i = 0; i < NSHARDS; i++)
		n += __atomic_load_n(&shards[i].cap, __ATOMIC_RELAXED) * sizeof(struct slot);
	return n;
}
