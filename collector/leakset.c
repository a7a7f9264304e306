/* leakset.c: operations on the leak set that do not depend on where it came
 * from: kind names, merging records and growth entries at a leak resolution,
 * ordering (biggest first, ties broken by stack so output is stable), totals
 * and error counts.
 */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static const char *const names[LA_NKINDS] = { "definite", "indirect", "possible", "reachable",
					      "unclassified" };
static const char *const phrases[LA_NKINDS] = { "definitely lost", "indirectly lost",
						"possibly lost", "still reachable",
						"outstanding (not classified)" };

const char *la_kind_name(enum la_kind k)
{
	return names[k];
}

const char *la_kind_phrase(enum la_kind k)
{
	return phrases[k];
}

int la_kind_parse_list(const char *s, unsigned *mask)
{
	unsigned m = 0;
	if (strcmp(s, "all") == 0) {
		*mask = LA_KINDS_ALL;
		return 0;
	}
	if (strcmp(s, "none") == 0) {
		*mask = 0;
		return 0;
	}
	char *copy = la_xstrdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k;
		for (k = 0; k < LA_NKINDS && strcmp(t, names[k]) != 0; k++)
			;
		if (k == LA_NKINDS) {
			free(copy);
			return -1;
		}
		m |= LA_KIND_BIT(k);
	}
	free(copy);
	if (!m)
		return -1;
	*mask = m;
	return 0;
}

struct la_process *la_leakset_add(struct la_leakset *ls)
{
	ls->proc = la_xrealloc(ls->proc, (ls->nproc + 1) * sizeof(*ls->proc));
	memset(&ls->proc[ls->nproc], 0, sizeof(*ls->proc));
	return &ls->proc[ls->nproc++];
}

static int by_pid(const void *a, const void *b)
{
	const struct la_process *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int resolution;

/* compares the first `resolution` machine frames (an inlined frame shares
 * its ip with the frame it was inlined into, so only non-inlined count) */
static int cmp_top(const struct la_stack *a, const struct la_stack *b)
{
	size_t i = 0, j = 0;
	for (int k = 0; !resolution || k < resolution; k++) {
		while (i < a->n && a->f[i].inlined)
			i++;
		while (j < b->n && b->f[j].inlined)
			j++;
		if (i == a->n || j == b->n)
			return (i < a->n) - (j < b->n);
		if (a->f[i].ip != b->f[j].ip)
			return a->f[i].ip < b->f[j].ip ? -1 : 1;
		i++;
		j++;
	}
	return 0;
}

static int by_key(const void *pa, const void *pb)
{
	const struct la_record *a = pa, *b = pb;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->family != b->family)
		return a->family - b->family;
	if (a->inherited != b->inherited)
		return a->inherited - b->inherited;
	return cmp_top(&a->stack, &b->stack);
}

static void keep_largest(struct la_record *x, uint64_t addr, uint64_t size)
{
	int k = 3;
	if (x->largest_size[k] >= size)
		return;
	while (k > 0 && x->largest_size[k - 1] < size) {
		x->largest_size[k] = x->largest_size[k - 1];
		x->largest_addr[k] = x->largest_addr[k - 1];
		k--;
	}
	x->largest_size[k] = size;
	x->largest_addr[k] = addr;
}

static void merge(struct la_process *p)
{
	if (p->nrec < 2)
		return;
	qsort(p->rec, p->nrec, sizeof(*p->rec), by_key);
	size_t o = 0;
	for (size_t i = 1; i < p->nrec; i++) {
		struct la_record *x = &p->rec[o], *y = &p->rec[i];
		if (by_key(x, y) != 0) {
			p->rec[++o] = *y;
			continue;
		}
		/* the merged record shows the stack of its biggest part */
		if (y->bytes + y->ibytes > x->bytes + x->ibytes)
			x->stack = y->stack;
		x->bytes += y->bytes;
		x->blocks += y->blocks;
		x->ibytes += y->ibytes;
		x->iblocks += y->iblocks;
		for (int k = 0; k < 4 && y->largest_size[k]; k++)
			keep_largest(x, y->largest_addr[k], y->largest_size[k]);
	}
	p->nrec = o + 1;
}

/* a growth entry's key is a record's, less inherited (the agent keys growth
 * by kind, family and stack only) */
static int by_growth_key(const void *pa, const void *pb)
{
	const struct la_growth *a = pa, *b = pb;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->family != b->family)
		return a->family - b->family;
	return cmp_top(&a->stack, &b->stack);
}

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

/* Growth entries merge as records do: stacks that agree in their first
 * `resolution` frames, or that became equal when cut to --num-callers, are
 * one entry. Parts may have opposite signs; an entry that nets to nothing
 * is dropped, as the agent writes no line for an unchanged key. */
static void merge_growth(struct la_process *p)
{
	if (p->ngrow < 2)
		return;
	qsort(p->grow, p->ngrow, sizeof(*p->grow), by_growth_key);
	size_t o = 0;
	for (size_t i = 1; i < p->ngrow; i++) {
		struct la_growth *x = &p->grow[o], *y = &p->grow[i];
		if (by_growth_key(x, y) != 0) {
			if (x->dbytes || x->dblocks)
				o++;
			p->grow[o] = *y;
			continue;
		}
		/* the merged entry shows the stack of its biggest change */
		if (magnitude(y->dbytes) > magnitude(x->dbytes))
			x->stack = y->stack;
		x->dbytes += y->dbytes;
		x->dblocks += y->dblocks;
	}
	p->ngrow = o + (p->grow[o].dbytes || p->grow[o].dblocks);
}

void la_leakset_merge(struct la_leakset *ls, int res)
{
	qsort(ls->proc, ls->nproc, sizeof(*ls->proc), by_pid);
	resolution = res;
	for (size_t i = 0; i < ls->nproc; i++) {
		merge(&ls->proc[i]);
		merge_growth(&ls->proc[i]);
	}
}

static int strcmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* Orders stacks by what they name, not by address, so the order of equal
 * records is the same in every run of the program. */
static int cmp_names(const struct la_stack *a, const struct la_stack *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		const struct la_frame *x = &a->f[i], *y = &b->f[i];
		int c = strcmp0(x->fn, y->fn);
		if (!c)
			c = strcmp0(x->src, y->src);
		if (!c)
			c = x->line - y->line;
		if (!c)
			c = strcmp0(x->obj, y->obj);
		if (!c && x->offset != y->offset)
			c = x->offset < y->offset ? -1 : 1;
		if (c)
			return c;
	}
	return (a->n > b->n) - (a->n < b->n);
}

static int biggest_first(const void *pa, const void *pb)
{
	const struct la_record *a = pa, *b = pb;
	uint64_t ta = a->bytes + a->ibytes, tb = b->bytes + b->ibytes;
	if (ta != tb)
		return ta > tb ? -1 : 1;
	if (a->blocks != b->blocks)
		return a->blocks > b->blocks ? -1 : 1;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	return cmp_names(&a->stack, &b->stack);
}

static int most_growth_first(const void *pa, const void *pb)
{
	const struct la_growth *a = pa, *b = pb;
	if (a->dbytes != b->dbytes)
		return a->dbytes > b->dbytes ? -1 : 1;
	if (a->dblocks != b->dblocks)
		return a->dblocks > b->dblocks ? -1 : 1;
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	return cmp_names(&a->stack, &b->stack);
}

void la_leakset_finish(struct la_leakset *ls, unsigned show_kinds, uint64_t min_bytes)
{
	for (size_t i = 0; i < ls->nproc; i++) {
		struct la_process *p = &ls->proc[i];
		qsort(p->rec, p->nrec, sizeof(*p->rec), biggest_first);
		if (p->ngrow)
			qsort(p->grow, p->ngrow, sizeof(*p->grow), most_growth_first);
		memset(&p->tot, 0, sizeof(p->tot));
		p->nshown = 0;
		for (size_t k = 0; k < p->nrec; k++) {
			struct la_record *r = &p->rec[k];
			if (r->suppressed_by) {
				p->tot.supp_bytes += r->bytes;
				p->tot.supp_blocks += r->blocks;
				r->shown = false;
				continue;
			}
			p->tot.bytes[r->kind] += r->bytes;
			p->tot.blocks[r->kind] += r->blocks;
			r->shown = (show_kinds & LA_KIND_BIT(r->kind)) &&
				   r->bytes + r->ibytes >= min_bytes;
			if (r->shown)
				r->index = ++p->nshown;
		}
		p->ngrow_shown = 0;
		for (size_t k = 0; k < p->ngrow; k++) {
			struct la_growth *g = &p->grow[k];
			p->tot.supp_grow += g->suppressed_by != NULL;
			g->shown = !g->suppressed_by && g->dbytes > 0 &&
				   (uint64_t)g->dbytes >= min_bytes;
			if (g->shown)
				g->index = ++p->ngrow_shown;
		}
	}
}

uint64_t la_leakset_errors(const struct la_leakset *ls, unsigned error_kinds, uint64_t min_bytes)
{
	uint64_t n = 0;
	for (size_t i = 0; i < ls->nproc; i++) {
		const struct la_process *p = &ls->proc[i];
		for (size_t k = 0; k < p->nrec; k++) {
			const struct la_record *r = &p->rec[k];
			if (!r->suppressed_by && (error_kinds & LA_KIND_BIT(r->kind)) &&
			    r->bytes + r->ibytes >= min_bytes)
				n++;
		}
		n += p->nfin;
	}
	return n;
}

static bool same_finding(const struct la_finding *a, const struct la_finding *b)
{
	return a->what == b->what && a->afam == b->afam && a->ffam == b->ffam &&
	       !cmp_top(&a->alloc, &b->alloc) && !cmp_top(&a->free, &b->free);
}

static uint64_t grown(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

void la_leakset_diff(const struct la_process *old, struct la_process *neu)
{
	size_t o = 0;
	for (size_t i = 0; i < neu->nrec; i++) {
		struct la_record r = neu->rec[i];
		/* old is sorted by key: la_leakset_merge left it so */
		const struct la_record *was =
			old->nrec ? bsearch(&r, old->rec, old->nrec, sizeof(r), by_key) : NULL;
		if (was) {
			if (r.bytes <= was->bytes && r.blocks <= was->blocks &&
			    r.ibytes <= was->ibytes && r.iblocks <= was->iblocks)
				continue;
			r.bytes = grown(r.bytes, was->bytes);
			r.blocks = grown(r.blocks, was->blocks);
			r.ibytes = grown(r.ibytes, was->ibytes);
			r.iblocks = grown(r.iblocks, was->iblocks);
			memset(r.largest_size, 0, sizeof(r.largest_size)); /* may be old blocks */
		}
		neu->rec[o++] = r;
	}
	neu->nrec = o;
	o = 0;
	for (size_t i = 0; i < neu->nfin; i++) {
		struct la_finding f = neu->fin[i];
		for (size_t k = 0; k < old->nfin; k++)
			if (same_finding(&f, &old->fin[k]))
				f.count = grown(f.count, old->fin[k].count);
		if (f.count)
			neu->fin[o++] = f;
	}
	neu->nfin = o;
	neu->ngrow = 0; /* a delta report's growth is relative to its own mark */
	neu->delta = false;
	neu->diff_old = old->source;
	neu->diff_old_seq = old->seq;
}
