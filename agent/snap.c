/* snap.c: a frozen copy of the live-allocation table for one report, 16
 * bytes a block, sorted by address so the scan can look up interior pointers.
 * Taken while all shard locks are held; the copy lives in mmap'd memory and
 * is sorted in place (MSD radix), so it needs no scratch array and no malloc.
 */
#include <string.h>
#include <time.h>

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

/* --- the fast path: partition by 16 MiB region, then sort each region ------
 * Pass 1 counts blocks per region in a small hash, pass 2 scatters each block
 * straight from the table to its region's part of the array, then each part
 * (tens of thousands of entries, cache-sized) is sorted by LSD radix on the
 * 24 address bits left. No pass moves data more than a cache away, and the
 * only scratch is one region's worth of entries. */
#define REGION_SHIFT 24
#define MAX_REGIONS 2048 /* more distinct regions (32 GiB): the in-place sort */

struct region {
	uint64_t key; /* region number + 1; 0 = empty */
	size_t count, at;
};

struct part {
	struct la_snap *s;
	struct region *r;
	size_t mask, used;
	int overflow;
};

static struct region *region_of(struct part *p, uintptr_t addr, int add)
{
	uint64_t key = (uint64_t)(addr >> REGION_SHIFT) + 1;
	for (size_t i = (key * 0x9e3779b97f4a7c15ull >> 40) & p->mask;; i = (i + 1) & p->mask) {
		if (p->r[i].key == key)
			return &p->r[i];
		if (!p->r[i].key) {
			if (!add || p->used * 2 >= p->mask) {
				p->overflow = 1;
				return NULL;
			}
			p->used++;
			p->r[i].key = key;
			return &p->r[i];
		}
	}
}

static void count_one(const struct la_block *b, void *ctx)
{
	struct part *p = ctx;
	struct region *r = p->overflow ? NULL : region_of(p, b->addr, 1);
	if (r)
		r->count++;
}

static void scatter_one(const struct la_block *b, void *ctx)
{
	struct part *p = ctx;
	struct region *r = region_of(p, b->addr, 0);
	size_t keep = p->s->n;
	p->s->n = r->at++;
	copy_one(b, p->s);
	p->s->n = keep + 1;
}

static void sort_regions(struct region *v, size_t n)
{
	for (size_t i = 1; i < n; i++) { /* few, and mostly in order */
		struct region x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1].key > x.key) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* LSD radix on the address bits below the region: 8 bits a pass, passes
 * where every entry has the same digit skipped (malloc alignment). */
static void sort_part(struct la_snap_block *v, struct la_snap_block *tmp, size_t n)
{
	if (n <= 48) {
		insertion_sort(v, n);
		return;
	}
	struct la_snap_block *src = v, *dst = tmp;
	for (int shift = 16; shift < 16 + REGION_SHIFT; shift += 8) {
		size_t count[256] = { 0 };
		for (size_t i = 0; i < n; i++)
			count[(src[i].key >> shift) & 255]++;
		if (count[(src[0].key >> shift) & 255] == n)
			continue;
		size_t at = 0;
		for (int d = 0; d < 256; d++) {
			size_t c = count[d];
			count[d] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].key >> shift) & 255]++] = src[i];
		struct la_snap_block *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

static int take_partitioned(struct la_snap *s)
{
	/* the hash stays cache-sized (96 KiB): it is probed once per block */
	struct part p = { s, NULL, 2 * MAX_REGIONS - 1, 0, 0 };
	size_t rbytes = 2 * MAX_REGIONS * sizeof(struct region);
	int rc = -1;
	p.r = la_map(rbytes);
	if (!p.r)
		return -1;
	la_table_foreach_locked(count_one, &p);
	if (p.overflow)
		goto out;
	/* compact the used regions, sort them, give each its offset */
	size_t nr = 0, at = 0, biggest = 0;
	for (size_t i = 0; i <= p.mask; i++)
		if (p.r[i].key)
			p.r[nr++] = p.r[i];
	sort_regions(p.r, nr);
	for (size_t i = 0; i < nr; i++) {
		p.r[i].at = at;
		at += p.r[i].count;
		biggest = p.r[i].count > biggest ? p.r[i].count : biggest;
	}
	/* re-hash the compacted entries for the scatter pass */
	struct region *dense = p.r;
	p.r = la_map(rbytes);
	if (!p.r) {
		p.r = dense;
		goto out;
	}
	p.used = 0;
	for (size_t i = 0; i < nr; i++) {
		struct region *r = region_of(&p, (uintptr_t)(dense[i].key - 1) << REGION_SHIFT, 1);
		r->at = dense[i].at;
	}
	la_table_foreach_locked(scatter_one, &p);
	size_t tbytes = (biggest ? biggest : 1) * sizeof(*s->blocks);
	struct la_snap_block *tmp = la_map(tbytes);
	if (tmp) {
		for (size_t i = 0; i < nr; i++)
			sort_part(s->blocks + dense[i].at, tmp, dense[i].count);
		la_unmap(tmp, tbytes);
	} else {
		radix_sort(s->blocks, s->n);
	}
	la_unmap(dense, rbytes);
	rc = 0;
out:
	la_unmap(p.r, rbytes);
	return rc;
}

int la_snap_take_locked(struct la_snap *s)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t n = la_table_count_locked();
	s->n = 0;
	s->huge = NULL;
	s->nhuge = s->huge_cap = 0;
	s->cap_bytes = (n ? n : 1) * sizeof(*s->blocks);
	s->blocks = la_map(s->cap_bytes);
	if (!s->blocks)
		return -1;
	if (take_partitioned(s) < 0) {
		/* too many regions (or no memory for the partition): plain copy,
		 * in-place sort */
		s->n = 0;
		la_unmap(s->huge, s->huge_cap * sizeof(*s->huge));
		s->huge = NULL;
		s->nhuge = s->huge_cap = 0;
		la_table_foreach_locked(copy_one, s);
		radix_sort(s->blocks, s->n);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->take_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
		     (uint64_t)t0.tv_nsec;
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
