/* fmt_folded.c: folded ("collapsed") stacks for flame graphs: one line per
 * stack, frames root first separated by ';', then the bytes of its records
 * (flamegraph.pl --colors=mem, speedscope, inferno read it). Identical
 * lines are merged; with several processes each stack starts at its
 * program's name and pid.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

struct line {
	char *stack;
	uint64_t bytes;
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

void la_fmt_folded(FILE *out, const struct la_leakset *ls, const struct la_out_options *o)
{
	struct line *v = NULL;
	size_t n = 0, cap = 0;
	(void)o;
	for (size_t i = 0; i < ls->nproc; i++) {
		const struct la_process *p = &ls->proc[i];
		for (size_t k = 0; k < p->nrec; k++) {
			const struct la_record *r = &p->rec[k];
			if (!r->shown || !r->bytes)
				continue;
			char *buf = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&buf, &len);
			if (ls->nproc > 1)
				fprintf(f, "%s (pid %ld)", la_src_base(p->exe ? p->exe : "?"), p->pid);
			/* names come from binaries: keep them to one frame each */
			for (size_t j = r->stack.n; j-- > 0;) {
				if (ftell(f))
					fputc(';', f);
				frame(f, &r->stack.f[j]);
			}
			if (!ftell(f))
				fputs("[no stack]", f);
			fclose(f);
			LA_GROW(v, n, cap);
			v[n].stack = buf;
			v[n++].bytes = r->bytes; /* indirect blocks are counted by their own records */
		}
	}
	qsort(v, n, sizeof(*v), by_stack);
	for (size_t i = 0; i < n; i++) {
		uint64_t bytes = v[i].bytes;
		while (i + 1 < n && !strcmp(v[i].stack, v[i + 1].stack))
			bytes += v[++i].bytes;
		fprintf(out, "%s %" PRIu64 "\n", v[i].stack, bytes);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].stack);
	free(v);
}
