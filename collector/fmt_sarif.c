/* fmt_sarif.c: SARIF 2.1.0 as GitHub code scanning accepts it: one run, one
 * rule per leak kind, per bad-free finding and for a delta report's growth
 * (ids stable across releases: alerts are matched by rule id and
 * fingerprint), each result located at the first frame in the program's own
 * sources, its whole stack attached, and the call path as a code flow,
 * outermost first.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

struct rule {
	const char *id, *name, *shortd, *fulld, *help, *level;
};

static const struct rule rules[] = {
	{ "leak/definitely-lost", "DefinitelyLostMemory", "Heap block is no longer referenced.",
	  "A heap block was still allocated when the report was taken and no pointer to it was "
	  "found (valgrind kind Leak_DefinitelyLost).",
	  "Free the block on every path, or transfer its ownership.", "error" },
	{ "leak/indirectly-lost", "IndirectlyLostMemory",
	  "Heap block is referenced only from lost blocks.",
	  "A heap block is reachable only through blocks that are themselves lost "
	  "(valgrind kind Leak_IndirectlyLost).",
	  "Fix the leak of the block that points to it.", "warning" },
	{ "leak/possibly-lost", "PossiblyLostMemory", "Heap block is referenced only by an interior pointer.",
	  "Only pointers into the middle of the block were found (valgrind kind Leak_PossiblyLost).",
	  "Check whether the block is still owned; free it when it is not.", "warning" },
	{ "leak/still-reachable", "StillReachableMemory", "Heap block was not freed before exit.",
	  "A pointer to the block still exists at the report point (valgrind kind "
	  "Leak_StillReachable).",
	  "Free the block at shutdown if a clean exit matters.", "note" },
	{ "leak/outstanding", "OutstandingMemory", "Heap block was outstanding; not classified.",
	  "A heap block was still allocated at the report point; no reachability scan ran, so "
	  "whether it is lost is not known.",
	  "Run with the reachability scan enabled to classify it.", "warning" },
	{ "free/mismatched", "MismatchedFree", "Block freed with the wrong deallocation function.",
	  "A block from malloc, new or new[] was released by a function of another family.",
	  "Release blocks with the function matching their allocation.", "error" },
	{ "free/invalid", "InvalidFree", "Address freed that was never allocated.",
	  "free or delete received an address that was not a live heap block.",
	  "Free only pointers returned by the allocator, once.", "error" },
	/* A note, not a warning: between two marks a warming cache or pool grows
	 * as it should, and growth that is lost is already a leak/ result of the
	 * same report (its new blocks are records). What this rule adds is the
	 * trend of blocks still reachable, which only the user can judge. */
	{ "leak/growth", "GrowingMemory", "Outstanding heap memory of this stack grew.",
	  "Since the previous delta report (or the program's start), the blocks allocated at this "
	  "stack and still outstanding, of any kind, old and new, grew; a cache that keeps all "
	  "it stores grows like this while it stays reachable.",
	  "Bound or expire what this stack allocates if it should not grow without end.", "note" },
};
enum { RULE_MISMATCH = LA_NKINDS, RULE_INVALID, RULE_GROWTH };

static void uri(FILE *out, const char *path)
{
	/* absolute paths as file:// URIs; GitHub makes them relative to the checkout */
	fputc('"', out);
	if (path[0] == '/')
		fputs("file://", out);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/-._~+", *p))
			fputc(*p, out);
		else
			fprintf(out, "%%%02X", *p);
	}
	fputc('"', out);
}

static void physical(FILE *out, const struct la_frame *f, bool full_region)
{
	int col = f->col > 0 ? f->col : 1;
	fputs("{\"artifactLocation\": {\"uri\": ", out);
	uri(out, f->src);
	fprintf(out, "}, \"region\": {\"startLine\": %d", f->line);
	if (full_region)
		fprintf(out, ", \"startColumn\": %d, \"endLine\": %d, \"endColumn\": %d", col, f->line,
			col + 1);
	fputs("}}", out);
}

static bool has_src(const struct la_frame *f)
{
	return f->src && f->line > 0;
}

/* The program's own code: not a system header or library source. */
static bool own(const struct la_frame *f)
{
	return has_src(f) && strncmp(f->src, "/usr/", 5) != 0 && strncmp(f->src, "../sysdeps", 10) &&
	       !strstr(f->src, "/glibc-") && strncmp(f->src, "./", 2) != 0;
}

static const struct la_frame *primary(const struct la_stack *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (own(&s->f[i]))
			return &s->f[i];
	for (size_t i = 0; i < s->n; i++)
		if (has_src(&s->f[i]))
			return &s->f[i];
	return NULL;
}

static void frames(FILE *out, const struct la_stack *s, const char *what)
{
	fputs("[{\"message\": {\"text\": ", out);
	la_json_str(out, what);
	fputs("}, \"frames\": [", out);
	for (size_t i = 0; i < s->n; i++) {
		const struct la_frame *f = &s->f[i];
		fputs(i ? ", {" : "{", out);
		if (f->obj) {
			fputs("\"module\": ", out);
			la_json_str(out, f->obj);
			fputs(", ", out);
		}
		fputs("\"location\": {", out);
		if (has_src(f)) {
			fputs("\"physicalLocation\": ", out);
			physical(out, f, false);
			fputs(", ", out);
		}
		fputs("\"logicalLocations\": [{\"fullyQualifiedName\": ", out);
		char addr[40];
		snprintf(addr, sizeof(addr), "0x%" PRIx64, f->ip);
		la_json_str(out, f->fn ? f->fn : addr);
		fputs("}]}}", out);
	}
	fputs("]}]", out);
}

static void code_flow(FILE *out, const struct la_stack *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += has_src(&s->f[i]);
	if (!n)
		return;
	fputs(",\n      \"codeFlows\": [{\"threadFlows\": [{\"locations\": [", out);
	bool first = true;
	for (size_t i = s->n; i-- > 0;) {
		const struct la_frame *f = &s->f[i];
		if (!has_src(f))
			continue;
		fputs(first ? "" : ", ", out);
		first = false;
		fputs("{\"location\": {\"physicalLocation\": ", out);
		physical(out, f, false);
		fputs(", \"message\": {\"text\": ", out);
		la_json_str(out, f->fn ? f->fn : "???");
		fputs("}}}", out);
	}
	fputs("]}]}]", out);
}

/* One result. fp_kind, when not NULL, joins the fingerprint: growth of one
 * stack may be of several kinds. props are the properties' members, pid added. */
static void result(FILE *out, int rule, const char *msg, const struct la_stack *s,
		   const struct la_process *p, const char *fp_kind, const char *props, bool *first)
{
	fputs(*first ? "\n     " : ",\n     ", out);
	*first = false;
	fprintf(out, "{\"ruleId\": \"%s\", \"ruleIndex\": %d, \"level\": \"%s\",\n      "
		     "\"message\": {\"text\": ", rules[rule].id, rule, rules[rule].level);
	la_json_str(out, msg);
	fputs("},\n      \"locations\": [{", out);
	const struct la_frame *f = primary(s);
	if (f) {
		fputs("\"physicalLocation\": ", out);
		physical(out, f, true);
		fputs(", \"logicalLocations\": [{\"name\": ", out);
		la_json_str(out, f->fn ? f->fn : "???");
		fputs(", \"kind\": \"function\"}]", out);
	} else if (s->n && s->f[0].obj) {
		/* no source line anywhere: point at the binary */
		fputs("\"physicalLocation\": {\"artifactLocation\": {\"uri\": ", out);
		uri(out, s->f[0].obj);
		fputs("}}", out);
	} else {
		fputs("\"message\": {\"text\": \"no stack recorded\"}", out);
	}
	fputs("}],\n      \"stacks\": ", out);
	frames(out, s, rule == RULE_MISMATCH || rule == RULE_INVALID ? "stack of the free"
								      : "allocation stack");
	code_flow(out, s);
	/* the stack's functions identify a leak across runs and line shifts */
	fputs(",\n      \"partialFingerprints\": {\"leakStack/v1\": \"", out);
	fprintf(out, "%s", rules[rule].id);
	if (fp_kind)
		fprintf(out, "/%s", fp_kind);
	for (size_t i = 0; i < s->n && i < 8; i++) {
		fputc('|', out);
		for (const char *c = s->f[i].fn ? s->f[i].fn : "?"; *c; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
				fputc(*c, out);
		if (s->f[i].line)
			fprintf(out, ":%d", s->f[i].line);
	}
	fprintf(out, "\"},\n      \"properties\": {%s, \"pid\": %ld}}", props, p->pid);
}

static const char *allocated_in(const struct la_stack *s)
{
	const struct la_frame *f = primary(s);
	if (f && f->fn)
		return f->fn;
	return s->n && s->f[0].fn ? s->f[0].fn : "an unknown function";
}

static char *amounts(uint64_t bytes, uint64_t blocks)
{
	return la_xasprintf("\"leakedBytes\": %" PRIu64 ", \"leakedBlocks\": %" PRIu64, bytes,
			    blocks);
}

/* the entries that grew, as text shows them: shrinking stacks are no finding */
static void growth(FILE *out, const struct la_process *p, bool *first)
{
	for (size_t k = 0; k < p->ngrow; k++) {
		const struct la_growth *g = &p->grow[k];
		if (!g->shown)
			continue;
		char a[32], b[32], since[32] = "the program started";
		if (p->base_seq)
			snprintf(since, sizeof(since), "report #%u", p->base_seq);
		/* blocks may be fewer: the same bytes in bigger blocks */
		char *msg = la_xasprintf("Outstanding memory allocated in %s grew by %s bytes in %s%s "
					 "blocks since %s (%s, now %s).", allocated_in(&g->stack),
					 la_commas((uint64_t)g->dbytes, a), g->dblocks < 0 ? "-" : "",
					 la_commas(g->dblocks < 0 ? -(uint64_t)g->dblocks
								  : (uint64_t)g->dblocks, b),
					 since, la_family_name(g->family), la_kind_phrase(g->kind));
		char *props = la_xasprintf("\"grownBytes\": %" PRId64 ", \"grownBlocks\": %" PRId64
					   ", \"kind\": \"%s\", \"family\": \"%s\", \"sinceReport\": %u, "
					   "\"report\": %u", g->dbytes, g->dblocks,
					   la_kind_name(g->kind), la_family_name(g->family), p->base_seq,
					   p->seq);
		result(out, RULE_GROWTH, msg, &g->stack, p, la_kind_name(g->kind), props, first);
		free(props);
		free(msg);
	}
}

void la_fmt_sarif(FILE *out, const struct la_leakset *ls, const struct la_out_options *o)
{
	fprintf(out, "{\"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
		     " \"version\": \"2.1.0\",\n \"runs\": [{\n  \"tool\": {\"driver\": {\"name\": "
		     "\"leakagent\", \"semanticVersion\": \"%s\",\n   \"informationUri\": "
		     "\"https://example.invalid/leakagent\",\n   \"rules\": [", o->tool_version);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		fprintf(out, "%s\n    {\"id\": \"%s\", \"name\": \"%s\", \"shortDescription\": "
			     "{\"text\": \"%s\"}, \"fullDescription\": {\"text\": \"%s\"}, \"help\": "
			     "{\"text\": \"%s\"}, \"defaultConfiguration\": {\"level\": \"%s\"}, "
			     "\"properties\": {\"tags\": [\"memory-leak\", \"reliability\"], "
			     "\"precision\": \"high\", \"problem.severity\": \"%s\"}}",
			i ? "," : "", r->id, r->name, r->shortd, r->fulld, r->help, r->level,
			strcmp(r->level, "note") ? r->level : "recommendation");
	}
	fputs("]}},\n", out);
	char cwd[4096];
	if (getcwd(cwd, sizeof(cwd) - 1)) {
		strcat(cwd, "/");
		fputs("  \"invocations\": [{\"executionSuccessful\": true, \"workingDirectory\": "
		      "{\"uri\": ", out);
		uri(out, cwd);
		fputs("}}],\n", out);
	}
	fputs("  \"results\": [", out);
	bool first = true;
	for (size_t i = 0; i < ls->nproc; i++) {
		const struct la_process *p = &ls->proc[i];
		for (size_t k = 0; k < p->nrec; k++) {
			const struct la_record *r = &p->rec[k];
			if (!r->shown)
				continue;
			char a[32], b[32], *msg, *props;
			msg = la_xasprintf("%s bytes in %s blocks are %s (allocated in %s).",
					   la_commas(r->bytes + r->ibytes, a), la_commas(r->blocks, b),
					   la_kind_phrase(r->kind), allocated_in(&r->stack));
			props = amounts(r->bytes + r->ibytes, r->blocks);
			result(out, r->kind, msg, &r->stack, p, NULL, props, &first);
			free(props);
			free(msg);
		}
		if (p->delta)
			growth(out, p, &first);
		for (size_t k = 0; k < p->nfin; k++) {
			const struct la_finding *fi = &p->fin[k];
			char *msg = fi->what == LA_MISMATCH
					    ? la_xasprintf("A %s block of %" PRIu64 " bytes was freed with "
							   "%s.", la_family_name(fi->afam), fi->size,
							   fi->ffam == 'm' ? "free" : fi->ffam == 'n'
										   ? "delete"
										   : "delete[]")
					    : la_xasprintf("Invalid free of address 0x%" PRIx64 ".",
							   fi->addr);
			char *props = amounts(fi->size, 1);
			result(out, fi->what == LA_MISMATCH ? RULE_MISMATCH : RULE_INVALID, msg, &fi->free,
			       p, NULL, props, &first);
			free(props);
			free(msg);
		}
	}
	fputs("]\n }]\n}\n", out);
}
