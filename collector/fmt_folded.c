/* fmt_folded.c: folded ("collapsed") stacks for flame graphs: one line per
 * stack, frames root first separated by ';', then the bytes of its records
 * (flamegraph.pl --colors=mem, speedscope, inferno read it). Identical
 * lines are merged; with several processes each stack starts at its
 * program's name and pid. A delta report adds the stacks that grew, under a
 * root frame "[growth]", after the records.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

struct line {
	char *stack;
	int64_t bytes; /* growth may be negative until its line is summed */
};

struct lines {
	struct line *v;
	size_t n, cap;
};

static int by_stack(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->stack, ((const struct line *)b)->stack);
}

/* ';' separates frames and '\n' lines: neither may appear in a name */
static void name(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, f);
}

static void frame(FILE *f, const struct la_frame *fr)
{
	if (fr->fn)
		name(f, fr->fn);
	else if (fr->obj)
		fprintf(f, "%s+0x%" PRIx64, la_src_base(fr->obj), fr->offset);
	else
		fprintf(f, "0x%" PRIx64, fr->ip);
}

/* root (when not NULL), the process when there are several, then the stack
 * from its outermost frame */
static void add(struct lines *l, const char *root, const struct la_process *p, bool several,
		const struct la_stack *st, int64_t bytes)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (root)
		fputs(root, f);
	if (several)
		fprintf(f, "%s%s (pid %ld)", ftell(f) ? ";" : "", la_src_base(p->exe ? p->exe : "?"),
			p->pid);
	/* names come from binaries: keep them to one frame each */
	for (size_t j = st->n; j-- > 0;) {
		if (ftell(f))
			fputc(';', f);
		frame(f, &st->f[j]);
	}
	if (!ftell(f))
		fputs("[no stack]", f);
	fclose(f);
	LA_GROW(l->v, l->n, l->cap);
	l->v[l->n].stack = buf;
	l->v[l->n++].bytes = bytes;
}

/* sorted, identical lines summed; a sum under min is left out */
static void print(FILE *out, struct lines *l, int64_t min)
{
	qsort(l->v, l->n, sizeof(*l->v), by_stack);
	for (size_t i = 0; i < l->n; i++) {
		int64_t bytes = l->v[i].bytes;
		while (i + 1 < l->n && !strcmp(l->v[i].stack, l->v[i + 1].stack))
			bytes += l->v[++i].bytes;
		if (bytes >= min)
			fprintf(out, "%s %" PRId64 "\n", l->v[i].stack, bytes);
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].stack);
	free(l->v);
}

void la_fmt_folded(FILE *out, const struct la_leakset *ls, const struct la_out_options *o)
{
	struct lines rec = { 0 }, grow = { 0 };
	bool several = ls->nproc > 1;
	for (size_t i = 0; i < ls->nproc; i++) {
		const struct la_process *p = &ls->proc[i];
		for (size_t k = 0; k < p->nrec; k++) {
			const struct la_record *r = &p->rec[k];
			/* indirect blocks are counted by their own records */
			if (r->shown && r->bytes)
				add(&rec, NULL, p, several, &r->stack, (int64_t)r->bytes);
		}
		/* A line has no kind: a stack's growth is its net change over all
		 * kinds, so blocks that went from reachable to lost do not count as
		 * growth. Only stacks that grew are written: counts cannot be
		 * negative in a flame graph. */
		for (size_t k = 0; p->delta && k < p->ngrow; k++) {
			const struct la_growth *g = &p->grow[k];
			if (!g->suppressed_by)
				add(&grow, "[growth]", p, several, &g->stack, g->dbytes);
		}
	}
	print(out, &rec, 1);
	print(out, &grow, o->min_bytes > 1 ? (int64_t)o->min_bytes : 1);
}
