/* fromraw.c: the agent backend: one raw report (reader.c) becomes one
 * process of the leak set, every recorded address symbolized through the
 * module map the agent wrote (dlclose()d modules included, state U).
 */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

struct range {
	uint64_t lo, hi;
	const struct la_raw_module *m;
};

struct map {
	struct range *r;
	size_t n;
};

static int by_lo(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void map_build(const struct la_raw *raw, struct map *mp)
{
	size_t cap = 0;
	for (size_t i = 0; i < raw->nmod; i++)
		cap += (size_t)raw->mod[i].nload;
	mp->r = la_xmalloc(cap * sizeof(*mp->r));
	mp->n = 0;
	for (size_t i = 0; i < raw->nmod; i++) {
		const struct la_raw_module *m = &raw->mod[i];
		for (int k = 0; k < m->nload; k++) {
			uint64_t lo = m->bias + m->load[k].vaddr;
			mp->r[mp->n++] = (struct range){ lo, lo + m->load[k].memsz, m };
		}
	}
	qsort(mp->r, mp->n, sizeof(*mp->r), by_lo);
}

/* A dlclose()d module and a later one may have occupied the same addresses;
 * the agent lists modules in load order, so among overlapping ranges the
 * loaded one (state L) wins, then the latest. */
static const struct la_raw_module *map_find(const struct map *mp, uint64_t a)
{
	const struct la_raw_module *best = NULL;
	size_t lo = 0, hi = mp->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (mp->r[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;) {
		const struct range *r = &mp->r[i];
		if (a >= r->lo && a < r->hi &&
		    (!best || (best->state != 'L' && r->m->state == 'L') ||
		     (best->state == r->m->state && r->m->id > best->id)))
			best = r->m;
	}
	return best;
}

static struct la_stack stack_of(const struct la_raw *raw, const struct map *mp, unsigned id,
				int num_callers)
{
	struct la_stack st = { 0 };
	const struct la_raw_stack *rs = id ? la_raw_stack(raw, id) : NULL;
	if (!rs)
		return st;
	size_t n = rs->n, cap = 0;
	if (num_callers > 0 && n > (size_t)num_callers)
		n = (size_t)num_callers;
	for (size_t i = 0; i < n; i++) {
		uint64_t ip = rs->pc[i];
		/* every recorded address is a return address: look up ip - 1 */
		struct la_stack fr = la_sym_lookup(map_find(mp, ip - 1), ip);
		for (size_t k = 0; k < fr.n; k++) {
			LA_GROW(st.f, st.n, cap);
			st.f[st.n] = fr.f[k];
			st.f[st.n++].ip = ip;
		}
	}
	return st;
}

static enum la_kind kind_of(char k)
{
	switch (k) {
	case 'D': return LA_DEFINITE;
	case 'I': return LA_INDIRECT;
	case 'P': return LA_POSSIBLE;
	case 'R': return LA_REACHABLE;
	default: return LA_UNCLASSIFIED;
	}
}

void la_fromraw(const struct la_raw *raw, struct la_process *p, int num_callers)
{
	struct map mp;
	map_build(raw, &mp);
	p->source = raw->path;
	p->pid = raw->pid;
	p->ppid = raw->ppid;
	p->forked_from = raw->forked_from;
	p->exe = raw->exe;
	p->argv = (const char **)raw->argv;
	p->argc = raw->argc;
	p->trigger = raw->trigger;
	p->fatal_signal = raw->fatal_signal;
	p->seq = raw->seq;
	p->sec = raw->sec;
	p->nsec = raw->nsec;
	p->scan_known = raw->have_w;
	p->scanned = raw->scanned;
	p->threads_seen = raw->w_seen;
	p->threads_parked = raw->w_parked;
	p->threads_unparked = raw->w_unparked;
	p->complete = raw->complete;
	p->rec = la_xmalloc(raw->nrec * sizeof(*p->rec));
	for (size_t i = 0; i < raw->nrec; i++) {
		const struct la_raw_record *r = &raw->rec[i];
		struct la_record *x = &p->rec[p->nrec++];
		x->kind = kind_of(r->kind);
		x->family = r->fam;
		x->inherited = r->origin == 'i';
		x->bytes = r->bytes;
		x->blocks = r->blocks;
		x->ibytes = r->ibytes;
		x->iblocks = r->iblocks;
		for (int k = 0; k < r->nlargest; k++) {
			x->largest_addr[k] = r->largest_addr[k];
			x->largest_size[k] = r->largest_size[k];
		}
		x->stack = stack_of(raw, &mp, r->stack, num_callers);
	}
	p->fin = la_xmalloc(raw->nfin * sizeof(*p->fin));
	for (size_t i = 0; i < raw->nfin; i++) {
		const struct la_raw_finding *f = &raw->fin[i];
		struct la_finding *x = &p->fin[p->nfin++];
		x->what = f->what == 'm' ? LA_MISMATCH : LA_INVALID_FREE;
		x->afam = f->afam;
		x->ffam = f->ffam;
		x->alloc = stack_of(raw, &mp, f->astack, num_callers);
		x->free = stack_of(raw, &mp, f->fstack, num_callers);
		x->addr = f->addr;
		x->size = f->size;
		x->count = f->count;
	}
	p->delta = raw->delta;
	p->base_seq = raw->base_seq;
	p->grow = la_xmalloc(raw->ngrow * sizeof(*p->grow));
	for (size_t i = 0; i < raw->ngrow; i++) {
		const struct la_raw_growth *g = &raw->grow[i];
		struct la_growth *x = &p->grow[p->ngrow++];
		x->kind = kind_of(g->kind);
		x->family = g->fam;
		x->dbytes = g->dbytes;
		x->dblocks = g->dblocks;
		x->stack = stack_of(raw, &mp, g->stack, num_callers);
	}
	free(mp.r);
}
