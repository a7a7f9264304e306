/* snap.c: a frozen copy of the live-allocation table for one report, 16
 * bytes a block, sorted by address so the scan can look up interior pointers.
 * Taken while all shard locks are held; the copy lives in mmap'd memory and
 * is sorted in place (MSD radix), so it needs no scratch array and no malloc.
 */
#include <string.h>

#include "agent.h"

#define HUGE_SIZE 0xffffffffu

static void copy_one(const struct la_block *b, void *ctx)
{
	struct la_snap *s = ctx;
	struct la_snap_block *o = &s->blocks[s->n++];
	o->key = (uint64_t)b->addr << 16 | (uint16_t)(b->flags & ~LA_F_SCAN_MASK);
	o->stack = b->stack;
	if (LA_LIKELY(b->size < HUGE_SIZE)) {
		o->size = (uint32_t)b->size;
		return;
	}
	o->size = HUGE_SIZE;
	if (s->nhuge == s->huge_cap) { /* rare: grow the side list by copying */
		size_t cap = s->huge_cap ? s->huge_cap * 2 : 64;
		void *nh = la_map(cap * sizeof(*s->huge));
		if (!nh)
			return; /* the block then looks 4 GiB - 1 long: only scanning loses */
		if (s->huge)
			memcpy(nh, s->huge, s->nhuge * sizeof(*s->huge));
		la_unmap(s->huge, s->huge_cap * sizeof(*s->huge));
		s->huge = nh;
		s->huge_cap = cap;
	}
	s->huge[s->nhuge].addr = b->addr;
	s->huge[s->nhuge].size = b->size;
	s->nhuge++;
}

uint64_t la_snap_size(const struct la_snap *s, const struct la_snap_block *b)
{
	if (LA_LIKELY(b->size != HUGE_SIZE))
		return b->size;
	uintptr_t a = la_snap_addr(b);
	for (size_t i = 0; i < s->nhuge; i++)
		if (s->huge[i].addr == a)
			return s->huge[i].size;
	return b->size;
}

static void insertion_sort(struct la_snap_block *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct la_snap_block x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1].key > x.key) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* In-place MSD radix sort (American flag sort) on the key, 8 bits a level.
 * Each level first finds the bits where the range still differs, so heap
 * addresses that share a long common prefix cost no useless passes: 5M
 * blocks take about three levels. Recursion depth is at most 8. */
static void radix_sort(struct la_snap_block *v, size_t n)
{
	if (n <= 48) {
		insertion_sort(v, n);
		return;
	}
	uint64_t lo = v[0].key, hi = v[0].key;
	for (size_t i = 1; i < n; i++) {
		uint64_t k = v[i].key;
		lo = k < lo ? k : lo;
		hi = k > hi ? k : hi;
	}
	/* keys are unique (one block per address), so lo < hi here */
	int top = 63 - __builtin_clzll(lo ^ hi); /* highest differing bit */
	int shift = top >= 7 ? top - 7 : 0;
	size_t count[256] = { 0 }, next[256], end[256];
	for (size_t i = 0; i < n; i++)
		count[(v[i].key >> shift) & 255]++;
	size_t at = 0;
	for (int d = 0; d < 256; d++) {
		next[d] = at;
		at += count[d];
		end[d] = at;
	}
	for (int d = 0; d < 256; d++) {
		while (next[d] < end[d]) {
			struct la_snap_block x = v[next[d]];
			int dx = (int)((x.key >> shift) & 255);
			while (dx != d) { /* walk the cycle until x's home is this slot */
				struct la_snap_block y = v[next[dx]];
				v[next[dx]++] = x;
				x = y;
				dx = (int)((x.key >> shift) & 255);
			}
			v[next[d]++] = x;
		}
	}
	if (shift == 0)
		return;
	at = 0;
	for (int d = 0; d < 256; d++) {
		if (count[d] > 1)
			radix_sort(v + at, count[d]);
		at += count[d];
	}
}

int la_snap_take_locked(struct la_snap *s)
{
	size_t n = la_table_count_locked();
	s->n = 0;
	s->huge = NULL;
	s->nhuge = s->huge_cap = 0;
	s->cap_bytes = (n ? n : 1) * sizeof(*s->blocks);
	s->blocks = la_map(s->cap_bytes);
	if (!s->blocks)
		return -1;
	la_table_foreach_locked(copy_one, s);
	radix_sort(s->blocks, s->n);
	return 0;
}

char la_snap_kind(const struct la_snap *s, const struct la_snap_block *b)
{
	static const char kinds[4] = { LA_KIND_DEFINITE, LA_KIND_REACHABLE, LA_KIND_POSSIBLE,
				       LA_KIND_INDIRECT };
	if (!s->scanned)
		return LA_KIND_UNKNOWN;
	return kinds[(la_snap_flags(b) & LA_F_SCAN_MASK) >> 3 & 3];
}

void la_snap_free(struct la_snap *s)
{
	la_unmap(s->blocks, s->cap_bytes);
	la_unmap(s->huge, s->huge_cap * sizeof(*s->huge));
	la_unmap(s->side, s->side_bytes);
	s->blocks = NULL;
	s->huge = NULL;
	s->side = NULL;
	s->n = s->nhuge = s->huge_cap = s->nside = 0;
}
