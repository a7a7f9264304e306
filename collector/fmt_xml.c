/* fmt_xml.c: valgrind's XML output, protocol version 4, exactly as memcheck
 * 3.19 writes it, so Qt Creator, Jenkins, ValgrindCI and csdiff read it
 * unchanged: one <valgrindoutput> per process, leak errors after the
 * FINISHED status, only the four Leak_* kinds (an unclassified record is
 * written as Leak_PossiblyLost, its <text> saying what it really is), bad
 * frees as MismatchedFree / InvalidFree.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static const char *const xml_kind[LA_NKINDS] = { "Leak_DefinitelyLost", "Leak_IndirectlyLost",
						 "Leak_PossiblyLost", "Leak_StillReachable",
						 "Leak_PossiblyLost" };

static void tag(FILE *out, const char *indent, const char *name, const char *text)
{
	fprintf(out, "%s<%s>", indent, name);
	la_xml_str(out, text);
	fprintf(out, "</%s>\n", name);
}

static void stack(FILE *out, const struct la_stack *s)
{
	fputs("  <stack>\n", out);
	for (size_t i = 0; i < s->n; i++) {
		const struct la_frame *f = &s->f[i];
		fprintf(out, "    <frame>\n      <ip>0x%" PRIX64 "</ip>\n", f->ip);
		if (f->obj)
			tag(out, "      ", "obj", f->obj);
		if (f->fn)
			tag(out, "      ", "fn", f->fn);
		/* dir, file and line together or not at all (ValgrindCI asserts it) */
		if (f->src && f->line) {
			const char *base = la_src_base(f->src);
			if (base != f->src) {
				char *dir = strndup(f->src, (size_t)(base - f->src - 1));
				tag(out, "      ", "dir", dir[0] ? dir : "/");
				free(dir);
			}
			tag(out, "      ", "file", base);
			fprintf(out, "      <line>%d</line>\n", f->line);
		}
		fputs("    </frame>\n", out);
	}
	fputs("  </stack>\n", out);
}

static void suppression(FILE *out, const struct la_record *r, const char *closing)
{
	char *text = la_supp_generate(r->kind, r->family, &r->stack);
	fputs(closing, out);
	fputs("  <suppression>\n    <sname>insert_a_suppression_name_here</sname>\n"
	      "    <skind>Memcheck:Leak</skind>\n", out);
	/* the structured lines come from the text entry, so both always agree */
	char *save = NULL, *copy = strdup(text);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ')
			l++;
		if (!strncmp(l, "match-leak-kinds: ", 18))
			tag(out, "    ", "skaux", l);
		else if (!strncmp(l, "fun:", 4) || !strncmp(l, "obj:", 4)) {
			fprintf(out, "    <sframe> <%.3s>", l);
			la_xml_str(out, l + 4);
			fprintf(out, "</%.3s> </sframe>\n", l);
		}
	}
	/* inside CDATA only "]]>" would need care; symbol names never hold it */
	fprintf(out, "    <rawtext>\n<![CDATA[\n%s]]>\n    </rawtext>\n  </suppression>\n", text);
	free(copy);
	free(text);
}

/* memcheck 3.19 writes each generated suppression twice: inside its error and
 * again right after it, at the top level; consumers expect both */
static void suppressions(FILE *out, const struct la_record *r)
{
	suppression(out, r, "");
	suppression(out, r, "</error>\n\n");
}

static void leak(FILE *out, const struct la_process *p, const struct la_record *r)
{
	char a[32], b[32], c[32], d[32], text[256];
	if (r->ibytes)
		snprintf(text, sizeof(text), "%s (%s direct, %s indirect) bytes in %s blocks are %s in "
			 "loss record %zu of %zu", la_commas(r->bytes + r->ibytes, a),
			 la_commas(r->bytes, b), la_commas(r->ibytes, c), la_commas(r->blocks, d),
			 la_kind_phrase(r->kind), r->index, p->nshown);
	else
		snprintf(text, sizeof(text), "%s bytes in %s blocks are %s in loss record %zu of %zu",
			 la_commas(r->bytes, a), la_commas(r->blocks, b), la_kind_phrase(r->kind),
			 r->index, p->nshown);
	fprintf(out, "<error>\n  <unique>0x%zx</unique>\n  <tid>1</tid>\n  <kind>%s</kind>\n"
		     "  <xwhat>\n", p->nfin + r->index - 1, xml_kind[r->kind]);
	tag(out, "    ", "text", text);
	fprintf(out, "    <leakedbytes>%" PRIu64 "</leakedbytes>\n    <leakedblocks>%" PRIu64
		     "</leakedblocks>\n  </xwhat>\n", r->bytes + r->ibytes, r->blocks);
	stack(out, &r->stack);
}

static void finding(FILE *out, const struct la_finding *f, size_t unique)
{
	char aux[160];
	fprintf(out, "<error>\n  <unique>0x%zx</unique>\n  <tid>1</tid>\n", unique);
	if (f->what == LA_MISMATCH) {
		fputs("  <kind>MismatchedFree</kind>\n"
		      "  <what>Mismatched free() / delete / delete []</what>\n", out);
		stack(out, &f->free);
		snprintf(aux, sizeof(aux), "Address 0x%" PRIx64 " is 0 bytes inside a block of size "
			 "%" PRIu64 " alloc'd", f->addr, f->size);
		tag(out, "  ", "auxwhat", aux);
		stack(out, &f->alloc);
	} else {
		fputs("  <kind>InvalidFree</kind>\n"
		      "  <what>Invalid free() / delete / delete[] / realloc()</what>\n", out);
		stack(out, &f->free);
		snprintf(aux, sizeof(aux), "Address 0x%" PRIx64 " is not stack'd, malloc'd or "
			 "(recently) free'd", f->addr);
		tag(out, "  ", "auxwhat", aux);
	}
	fputs("</error>\n\n", out);
}

void la_fmt_xml(FILE *out, const struct la_process *p, const struct la_out_options *o)
{
	fputs("<?xml version=\"1.0\"?>\n\n<valgrindoutput>\n\n<protocolversion>4</protocolversion>\n"
	      "<protocoltool>memcheck</protocoltool>\n\n<preamble>\n", out);
	fprintf(out, "  <line>leakagent %s, a memory leak detector</line>\n", o->tool_version);
	fputs("  <line>Command:", out);
	for (size_t i = 0; i < p->argc; i++) {
		fputc(' ', out);
		la_xml_str(out, p->argv[i]);
	}
	fprintf(out, "</line>\n</preamble>\n\n<pid>%ld</pid>\n<ppid>%ld</ppid>\n<tool>memcheck</tool>\n\n",
		p->pid, p->ppid);
	fputs("<args>\n  <vargv>\n    <exe>leakagent</exe>\n  </vargv>\n  <argv>\n", out);
	for (size_t i = 0; i < p->argc; i++)
		tag(out, "    ", i ? "arg" : "exe", p->argv[i]);
	if (!p->argc)
		tag(out, "    ", "exe", p->exe ? p->exe : "");
	fputs("  </argv>\n</args>\n\n<status>\n  <state>RUNNING</state>\n"
	      "  <time>00:00:00:00.000 </time>\n</status>\n\n", out);
	for (size_t i = 0; i < p->nfin; i++)
		finding(out, &p->fin[i], i);
	fputs("<status>\n  <state>FINISHED</state>\n  <time>00:00:00:00.000 </time>\n</status>\n\n",
	      out);
	for (size_t i = 0; i < p->nrec; i++) {
		const struct la_record *r = &p->rec[i];
		if (!r->shown)
			continue;
		leak(out, p, r);
		if (o->gen_supp)
			suppressions(out, r);
		else
			fputs("</error>\n\n", out);
	}
	/* like memcheck: counts of the non-leak errors only */
	fputs("<errorcounts>\n", out);
	for (size_t i = 0; i < p->nfin; i++)
		fprintf(out, "  <pair>\n    <count>%" PRIu64 "</count>\n    <unique>0x%zx</unique>\n"
			     "  </pair>\n", p->fin[i].count, i);
	fputs("</errorcounts>\n\n<suppcounts>\n", out);
	const struct la_supp *const *all;
	size_t ns = la_supp_all(&all);
	for (size_t i = 0; i < ns; i++)
		if (all[i]->used) {
			fprintf(out, "  <pair>\n    <count>%" PRIu64 "</count>\n", all[i]->used);
			tag(out, "    ", "name", all[i]->name);
			fputs("  </pair>\n", out);
		}
	fputs("</suppcounts>\n\n</valgrindoutput>\n\n", out);
}
