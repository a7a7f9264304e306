/* fmt_text.c: the report for people, in memcheck's shape: loss records
 * biggest first with their stacks, a leak summary per kind, how complete
 * the reachability scan was, then bad frees with both stacks. Every line of
 * a process is prefixed with ==pid== so children's reports stay apart.
 */
#define _GNU_SOURCE /* sigabbrev_np */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static void stack(FILE *out, long pid, const struct la_stack *s)
{
	if (!s->n)
		fprintf(out, "==%ld==    (no stack recorded)\n", pid);
	for (size_t i = 0; i < s->n; i++) {
		fprintf(out, "==%ld==    %s 0x%" PRIX64 ": ", pid, i ? "by" : "at", s->f[i].ip);
		la_frame_where(out, &s->f[i]);
		fputc('\n', out);
	}
}

/* "72 (8 direct, 64 indirect) bytes in 1 blocks are definitely lost" */
static void record_head(FILE *out, const struct la_record *r)
{
	char a[32], b[32], c[32];
	if (r->ibytes)
		fprintf(out, "%s (%s direct, %s indirect) bytes", la_commas(r->bytes + r->ibytes, a),
			la_commas(r->bytes, b), la_commas(r->ibytes, c));
	else
		fprintf(out, "%s bytes", la_commas(r->bytes, a));
	fprintf(out, " in %s blocks are %s", la_commas(r->blocks, b), la_kind_phrase(r->kind));
}

static void summary(FILE *out, const struct la_process *p)
{
	static const char *const label[] = { "   definitely lost", "   indirectly lost",
					     "     possibly lost", "   still reachable",
					     "   outstanding (not classified)" };
	char a[32], b[32];
	long pid = p->pid;
	fprintf(out, "==%ld== LEAK SUMMARY:\n", pid);
	for (int k = 0; k < LA_NKINDS; k++) {
		if (k == LA_UNCLASSIFIED && !p->tot.blocks[k] && p->scanned)
			continue;
		fprintf(out, "==%ld== %s: %s bytes in %s blocks\n", pid, label[k],
			la_commas(p->tot.bytes[k], a), la_commas(p->tot.blocks[k], b));
	}
	fprintf(out, "==%ld==         suppressed: %s bytes in %s blocks\n", pid,
		la_commas(p->tot.supp_bytes, a), la_commas(p->tot.supp_blocks, b));
}

static void completeness(FILE *out, const struct la_process *p)
{
	long pid = p->pid;
	if (!p->scan_known)
		fprintf(out, "==%ld== Reachability scan: not recorded in this report\n", pid);
	else if (!p->scanned)
		fprintf(out, "==%ld== Reachability scan: did not run; the blocks were not classified "
			     "(kind: outstanding)\n", pid);
	else
		fprintf(out, "==%ld== Reachability scan: %" PRIu64 " of %" PRIu64 " threads parked"
			     "%s\n", pid, p->threads_parked, p->threads_seen,
			p->threads_unparked ? "; the stacks of the others were scanned whole" : "");
	if (!p->complete)
		fprintf(out, "==%ld== Report incomplete: %s was cut short or damaged; "
			     "what it held past that point is missing\n", pid, p->source);
}

static void findings(FILE *out, const struct la_process *p)
{
	long pid = p->pid;
	for (size_t i = 0; i < p->nfin; i++) {
		const struct la_finding *f = &p->fin[i];
		char times[48] = "";
		if (f->count > 1)
			snprintf(times, sizeof(times), " (%" PRIu64 " times)", f->count);
		if (f->what == LA_MISMATCH) {
			fprintf(out, "==%ld== Mismatched free() / delete / delete [] (%s block freed with "
				     "%s)%s\n", pid, la_family_name(f->afam),
				f->ffam == 'm' ? "free" : f->ffam == 'n' ? "delete" : "delete[]", times);
			stack(out, pid, &f->free);
			fprintf(out, "==%ld==  Address 0x%" PRIx64 " is 0 bytes inside a block of size "
				     "%" PRIu64 " alloc'd\n", pid, f->addr, f->size);
			stack(out, pid, &f->alloc);
		} else {
			fprintf(out, "==%ld== Invalid free() / delete / delete[] / realloc()%s\n", pid,
				times);
			stack(out, pid, &f->free);
			fprintf(out, "==%ld==  Address 0x%" PRIx64 " is not stack'd, malloc'd or "
				     "(recently) free'd\n", pid, f->addr);
		}
		fprintf(out, "==%ld== \n", pid);
	}
}

static const char *since(unsigned seq, char *buf, size_t n)
{
	if (!seq)
		return "the program started";
	snprintf(buf, n, "report #%u", seq);
	return buf;
}

/* Delta reports: how every stack's outstanding blocks (old and new, of any
 * kind) changed since the mark. A cache that keeps everything it ever stored
 * is still reachable, so it never shows as lost: here it shows as growth. */
static void growth(FILE *out, const struct la_process *p, bool gen_supp)
{
	long pid = p->pid;
	char a[32], b[32], buf[32];
	size_t nshrunk = 0;
	uint64_t shrunk = 0;
	for (size_t i = 0; i < p->ngrow; i++)
		if (p->grow[i].dbytes < 0 && !p->grow[i].suppressed_by) {
			nshrunk++;
			shrunk += (uint64_t)-p->grow[i].dbytes;
		}
	fprintf(out, "==%ld== GROWN SINCE %s: outstanding blocks per stack, of any kind, old and "
		     "new\n", pid, since(p->base_seq, buf, sizeof(buf)));
	for (size_t i = 0; i < p->ngrow; i++) {
		const struct la_growth *g = &p->grow[i];
		if (!g->shown)
			continue;
		fprintf(out, "==%ld== +%s bytes in %s%s blocks (%s, now %s) in growth record %zu of "
			     "%zu\n", pid, la_commas((uint64_t)g->dbytes, a), g->dblocks < 0 ? "-" : "+",
			la_commas((uint64_t)(g->dblocks < 0 ? -g->dblocks : g->dblocks), b),
			la_family_name(g->family), la_kind_phrase(g->kind), g->index, p->ngrow_shown);
		stack(out, pid, &g->stack);
		fprintf(out, "==%ld== \n", pid);
		if (gen_supp) { /* the same entry hides the stack's records too */
			char *s = la_supp_generate(g->kind, g->family, &g->stack);
			fputs(s, out);
			free(s);
		}
	}
	if (!p->ngrow_shown)
		fprintf(out, "==%ld==    no stack grew\n", pid);
	if (nshrunk)
		fprintf(out, "==%ld==    %zu stack%s shrank by %s bytes in all\n", pid, nshrunk,
			nshrunk > 1 ? "s" : "", la_commas(shrunk, a));
	if (p->tot.supp_grow)
		fprintf(out, "==%ld==    %zu growth entr%s suppressed\n", pid, p->tot.supp_grow,
			p->tot.supp_grow > 1 ? "ies" : "y");
	if (!p->ngrow_shown || nshrunk || p->tot.supp_grow) /* a shown record ends with a blank line */
		fprintf(out, "==%ld== \n", pid);
}

static void process(FILE *out, const struct la_process *p, const struct la_out_options *o)
{
	long pid = p->pid;
	fprintf(out, "==%ld== leakagent %s, a memory leak detector\n", pid, o->tool_version);
	fprintf(out, "==%ld== Command:", pid);
	for (size_t i = 0; i < p->argc; i++)
		fprintf(out, " %s", p->argv[i]);
	fprintf(out, "\n==%ld== Report: %s #%u of pid %ld (parent %ld)\n", pid,
		p->trigger ? p->trigger : "?", p->seq, pid, p->ppid);
	if (p->fatal_signal) {
		const char *name = sigabbrev_np(p->fatal_signal);
		fprintf(out, "==%ld== Process terminating with default action of signal %d (SIG%s)\n",
			pid, p->fatal_signal, name ? name : "?");
	}
	char buf[32];
	if (p->delta)
		fprintf(out, "==%ld== Delta: the records are blocks allocated since %s that are "
			     "still outstanding\n", pid, since(p->base_seq, buf, sizeof(buf)));
	if (p->diff_old)
		fprintf(out, "==%ld== Diff: the records are what appeared or grew since report #%u "
			     "(%s): bytes and blocks are the increase\n", pid, p->diff_old_seq,
			p->diff_old);
	fprintf(out, "==%ld== \n", pid);
	for (size_t i = 0; i < p->nrec; i++) {
		const struct la_record *r = &p->rec[i];
		if (!r->shown)
			continue;
		fprintf(out, "==%ld== ", pid);
		record_head(out, r);
		fprintf(out, " in loss record %zu of %zu\n", r->index, p->nshown);
		stack(out, pid, &r->stack);
		if (r->inherited)
			fprintf(out, "==%ld==    (inherited: allocated by the parent before fork)\n", pid);
		fprintf(out, "==%ld== \n", pid);
		if (o->gen_supp) {
			char *s = la_supp_generate(r->kind, r->family, &r->stack);
			fputs(s, out);
			free(s);
		}
	}
	if (p->delta)
		growth(out, p, o->gen_supp);
	summary(out, p);
	fprintf(out, "==%ld== \n", pid);
	completeness(out, p);
	if (p->nfin) {
		fprintf(out, "==%ld== \n", pid);
		findings(out, p);
	}
}

void la_fmt_text(FILE *out, const struct la_leakset *ls, const struct la_out_options *o)
{
	for (size_t i = 0; i < ls->nproc; i++) {
		if (i)
			fputc('\n', out);
		process(out, &ls->proc[i], o);
	}
	/* the suppressions the user gave, and the built-in ones that were used
	 * (valgrind -v lists default.supp's used entries, never its unused) */
	const struct la_supp *const *all;
	size_t n = la_supp_all(&all), listed = 0, unused = 0;
	for (size_t i = 0; i < n; i++) {
		listed += all[i]->used || !all[i]->builtin;
		unused += !all[i]->used && !all[i]->builtin;
	}
	if (!listed)
		return;
	fprintf(out, "\nUsed suppressions:\n");
	for (size_t i = 0; i < n; i++) {
		char a[32], b[32];
		if (!all[i]->used)
			continue;
		fprintf(out, "   %" PRIu64 " %s (%s:%d) suppressed: %s bytes in %s blocks", all[i]->used,
			all[i]->name, all[i]->file, all[i]->line, la_commas(all[i]->used_bytes, a),
			la_commas(all[i]->used_blocks, b));
		if (all[i]->used_growth)
			fprintf(out, " and %" PRIu64 " growth entr%s", all[i]->used_growth,
				all[i]->used_growth > 1 ? "ies" : "y");
		fputc('\n', out);
	}
	if (!unused)
		return;
	fprintf(out, "Unused suppressions:\n");
	for (size_t i = 0; i < n; i++)
		if (!all[i]->used && !all[i]->builtin)
			fprintf(out, "   %s (%s:%d)\n", all[i]->name, all[i]->file, all[i]->line);
}
