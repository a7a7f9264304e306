/* fmt_json.c: the machine-readable report, documented in
 * collector/report-schema.json (JSON Schema draft-04) and README. "version"
 * changes only when a field changes meaning or goes away; new fields may
 * appear in any version.
 */
#include <inttypes.h>

#include "collector.h"

#define LA_JSON_VERSION 1

static void frames(FILE *out, const struct la_stack *s)
{
	fputc('[', out);
	for (size_t i = 0; i < s->n; i++) {
		const struct la_frame *f = &s->f[i];
		fprintf(out, "%s{\"ip\": \"0x%" PRIx64 "\", \"module\": ", i ? ", " : "", f->ip);
		la_json_str(out, f->obj);
		fprintf(out, ", \"offset\": \"0x%" PRIx64 "\", \"function\": ", f->offset);
		la_json_str(out, f->fn);
		fputs(", \"symbol\": ", out);
		la_json_str(out, f->fun);
		fputs(", \"file\": ", out);
		la_json_str(out, f->src);
		fprintf(out, ", \"line\": %d, \"column\": %d, \"inlined\": %s}", f->line, f->col,
			f->inlined ? "true" : "false");
	}
	fputc(']', out);
}

static void record(FILE *out, const struct la_record *r)
{
	fprintf(out, "{\"index\": %zu, \"kind\": \"%s\", \"family\": \"%s\", \"inherited\": %s, "
		     "\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"indirect_bytes\": %" PRIu64
		     ", \"indirect_blocks\": %" PRIu64 ", \"largest\": [",
		r->index, la_kind_name(r->kind), la_family_name(r->family),
		r->inherited ? "true" : "false", r->bytes, r->blocks, r->ibytes, r->iblocks);
	for (int k = 0; k < 4 && r->largest_size[k]; k++)
		fprintf(out, "%s{\"address\": \"0x%" PRIx64 "\", \"size\": %" PRIu64 "}", k ? ", " : "",
			r->largest_addr[k], r->largest_size[k]);
	fputs("],\n        \"stack\": ", out);
	frames(out, &r->stack);
	fputc('}', out);
}

static void finding(FILE *out, const struct la_finding *f)
{
	fprintf(out, "{\"what\": \"%s\", \"alloc_family\": %s%s%s, \"free_family\": \"%s\", "
		     "\"address\": \"0x%" PRIx64 "\", \"size\": %" PRIu64 ", \"count\": %" PRIu64
		     ",\n        \"alloc_stack\": ",
		f->what == LA_MISMATCH ? "mismatched-free" : "invalid-free",
		f->afam == '-' ? "" : "\"", f->afam == '-' ? "null" : la_family_name(f->afam),
		f->afam == '-' ? "" : "\"", la_family_name(f->ffam), f->addr, f->size, f->count);
	frames(out, &f->alloc);
	fputs(",\n        \"free_stack\": ", out);
	frames(out, &f->free);
	fputc('}', out);
}

static void process(FILE *out, const struct la_process *p)
{
	fprintf(out, "    {\"pid\": %ld, \"ppid\": %ld, \"exe\": ", p->pid, p->ppid);
	la_json_str(out, p->exe);
	fputs(", \"argv\": [", out);
	for (size_t i = 0; i < p->argc; i++) {
		fputs(i ? ", " : "", out);
		la_json_str(out, p->argv[i]);
	}
	fputs("], \"trigger\": ", out);
	la_json_str(out, p->trigger);
	if (p->fatal_signal)
		fprintf(out, ", \"fatal_signal\": %d", p->fatal_signal);
	else
		fputs(", \"fatal_signal\": null", out);
	fprintf(out, ", \"seq\": %u, \"time\": %" PRIu64 ".%09" PRIu64 ", \"source\": ", p->seq,
		p->sec, p->nsec);
	la_json_str(out, p->source);
	fprintf(out, ", \"complete\": %s,\n     \"scan\": ", p->complete ? "true" : "false");
	if (p->scan_known)
		fprintf(out, "{\"ran\": %s, \"threads_seen\": %" PRIu64 ", \"threads_parked\": %" PRIu64
			     ", \"threads_unparked\": %" PRIu64 "}",
			p->scanned ? "true" : "false", p->threads_seen, p->threads_parked,
			p->threads_unparked);
	else
		fputs("null", out);
	fputs(",\n     \"summary\": {", out);
	for (int k = 0; k < LA_NKINDS; k++)
		fprintf(out, "\"%s\": {\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 "}, ",
			la_kind_name(k), p->tot.bytes[k], p->tot.blocks[k]);
	fprintf(out, "\"suppressed\": {\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 "}},\n",
		p->tot.supp_bytes, p->tot.supp_blocks);
	fputs("     \"records\": [", out);
	size_t n = 0;
	for (size_t i = 0; i < p->nrec; i++)
		if (p->rec[i].shown) {
			fputs(n++ ? ",\n       " : "\n       ", out);
			record(out, &p->rec[i]);
		}
	fputs("],\n     \"findings\": [", out);
	for (size_t i = 0; i < p->nfin; i++) {
		fputs(i ? ",\n       " : "\n       ", out);
		finding(out, &p->fin[i]);
	}
	fputs("],\n     \"delta\": ", out);
	if (p->delta)
		fprintf(out, "{\"since_seq\": %u}", p->base_seq);
	else
		fputs("null", out);
	fputs(", \"growth\": [", out);
	n = 0;
	for (size_t i = 0; i < p->ngrow; i++) { /* shrinking ones too: only suppressed are left out */
		const struct la_growth *g = &p->grow[i];
		if (g->suppressed_by)
			continue;
		fprintf(out, "%s{\"kind\": \"%s\", \"family\": \"%s\", \"bytes\": %" PRId64
			     ", \"blocks\": %" PRId64 ",\n        \"stack\": ",
			n++ ? ",\n       " : "\n       ", la_kind_name(g->kind),
			la_family_name(g->family), g->dbytes, g->dblocks);
		frames(out, &g->stack);
		fputc('}', out);
	}
	fprintf(out, "], \"growth_suppressed\": %zu,\n     \"diff\": ", p->tot.supp_grow);
	if (p->diff_old) {
		fputs("{\"old_source\": ", out);
		la_json_str(out, p->diff_old);
		fprintf(out, ", \"old_seq\": %u}", p->diff_old_seq);
	} else {
		fputs("null", out);
	}
	fputs("}", out);
}

void la_fmt_json(FILE *out, const struct la_leakset *ls, const struct la_out_options *o)
{
	fprintf(out, "{\"format\": \"leakagent-report\", \"version\": %d,\n \"tool\": {\"name\": "
		     "\"leakagent\", \"version\": \"%s\"},\n \"processes\": [\n",
		LA_JSON_VERSION, o->tool_version);
	for (size_t i = 0; i < ls->nproc; i++) {
		fputs(i ? ",\n" : "", out);
		process(out, &ls->proc[i]);
	}
	fputs("],\n \"suppressions\": [", out);
	const struct la_supp *const *all;
	size_t ns = la_supp_all(&all);
	/* the user's, and the built-in ones that were used (as in text) */
	for (size_t i = 0, k = 0; i < ns; i++) {
		const struct la_supp *s = all[i];
		if (s->builtin && !s->used)
			continue;
		fputs(k++ ? ",\n   " : "\n   ", out);
		fputs("{\"name\": ", out);
		la_json_str(out, s->name);
		fputs(", \"file\": ", out);
		la_json_str(out, s->file);
		fprintf(out, ", \"line\": %d, \"format\": \"%s\", \"default\": %s, \"used\": %" PRIu64
			     ", \"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"growth\": %" PRIu64 "}",
			s->line, s->lsan ? "lsan" : "valgrind", s->builtin ? "true" : "false", s->used,
			s->used_bytes, s->used_blocks, s->used_growth);
	}
	fputs("],\n \"problems\": [", out);
	for (size_t i = 0; i < la_nproblems; i++) {
		fputs(i ? ", " : "", out);
		la_json_str(out, la_problems[i]);
	}
	fputs("]}\n", out);
}
