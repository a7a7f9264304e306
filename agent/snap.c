/* snap.c: a frozen copy of the live-allocation table for one report, sorted
 * by address so the scan can look up interior pointers by binary search.
 * Taken while all shard locks are held; the copy lives in mmap'd memory and
 * sorting it allocates nothing (qsort may call malloc).
 */
#include "agent.h"

static void copy_one(const struct la_block *b, void *ctx)
{
	struct la_snap *s = ctx;
	struct la_snap_block *o = &s->blocks[s->n++];
	o->addr = b->addr;
	o->size = b->size;
	o->stack = b->stack;
	o->flags = b->flags;
	o->kind = LA_KIND_UNKNOWN;
	o->mark = 0;
}

static void swap(struct la_snap_block *a, struct la_snap_block *b)
{
	struct la_snap_block t = *a;
	*a = *b;
	*b = t;
}

/* Quicksort by address, median of three, small ranges by insertion; the
 * smaller side recursed, the larger looped, so the depth stays O(log n). */
static void sort(struct la_snap_block *v, size_t n)
{
	while (n > 16) {
		size_t m = n / 2;
		if (v[m].addr < v[0].addr)
			swap(&v[m], &v[0]);
		if (v[n - 1].addr < v[0].addr)
			swap(&v[n - 1], &v[0]);
		if (v[n - 1].addr < v[m].addr)
			swap(&v[n - 1], &v[m]);
		uintptr_t pivot = v[m].addr;
		size_t i = 0, j = n - 1;
		for (;;) {
			while (v[i].addr < pivot)
				i++;
			while (v[j].addr > pivot)
				j--;
			if (i >= j)
				break;
			swap(&v[i++], &v[j--]);
		}
		size_t left = j + 1;
		if (left < n - left) {
			sort(v, left);
			v += left;
			n -= left;
		} else {
			sort(v + left, n - left);
			n = left;
		}
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j].addr < v[j - 1].addr; j--)
			swap(&v[j], &v[j - 1]);
}

int la_snap_take_locked(struct la_snap *s)
{
	size_t n = la_table_count_locked();
	s->n = 0;
	s->cap_bytes = (n ? n : 1) * sizeof(*s->blocks);
	s->blocks = la_map(s->cap_bytes);
	if (!s->blocks)
		return -1;
	la_table_foreach_locked(copy_one, s);
	sort(s->blocks, s->n);
	return 0;
}

void la_snap_free(struct la_snap *s)
{
	la_unmap(s->blocks, s->cap_bytes);
	s->blocks = NULL;
	s->n = 0;
}
