/* leakset.h: the leak set, the normalized model every backend produces and
 * every formatter reads: per process, leak records (kind, bytes, blocks,
 * symbolized stack) and findings (bad frees). The agent's raw report is one
 * source (fromraw.c); valgrind XML or a tcmalloc heap file can fill the same
 * structures, so suppressions, formats and comparisons never ask where a
 * record came from. Strings are owned by the model and live until exit.
 *
 *   la_leakset ── proc[] ── la_process ── rec[] ── la_record ── stack ── frame[]
 *                                     ├─ fin[] ── la_finding ── alloc, free stacks
 *                                     └─ grow[] ── la_growth ── stack (delta reports)
 */
#ifndef LEAKAGENT_LEAKSET_H
#define LEAKAGENT_LEAKSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcheck's four kinds, plus "outstanding, not classified" (no scan ran) */
enum la_kind { LA_DEFINITE, LA_INDIRECT, LA_POSSIBLE, LA_REACHABLE, LA_UNCLASSIFIED, LA_NKINDS };
#define LA_KIND_BIT(k) (1u << (k))
#define LA_KINDS_ALL ((1u << LA_NKINDS) - 1)

/* One logical frame. A machine address with inlined calls expands to several
 * frames with the same ip: the inlined ones first (inlined = true), the
 * function they were inlined into last. */
struct la_frame {
	uint64_t ip;       /* as recorded: a return address for callers */
	const char *obj;   /* module path as recorded; NULL when no module holds ip */
	uint64_t offset;   /* ip - the module's load bias */
	const char *fn;    /* display name, demangled; NULL when unknown */
	const char *fun;   /* valgrind's name for fun: lines: the mangled symbol of an
			    * out-of-line function, the DWARF short name of an inlined one */
	const char *src;   /* source file as DWARF names it (absolute when known); NULL */
	int line, col;     /* 0 when unknown */
	bool inlined;
};

struct la_stack {
	struct la_frame *f; /* innermost first */
	size_t n;
};

struct la_supp; /* suppress.c */

struct la_record {
	enum la_kind kind;
	char family;        /* 'm' malloc, 'n' new, 'a' new[], '?' unknown */
	bool inherited;     /* allocated by the parent before fork */
	uint64_t bytes, blocks;   /* the record's own blocks */
	uint64_t ibytes, iblocks; /* blocks indirectly lost through them */
	struct la_stack stack;
	uint64_t largest_addr[4], largest_size[4]; /* 0-terminated */
	const struct la_supp *suppressed_by; /* NULL: not suppressed */
	bool shown;         /* passes --show-leak-kinds and --min-bytes */
	size_t index;       /* loss record number among shown records, from 1 */
};

enum la_finding_what { LA_MISMATCH, LA_INVALID_FREE };

struct la_finding {
	enum la_finding_what what;
	char afam, ffam;    /* families of the allocation and of the free; afam '-' for invalid */
	struct la_stack alloc, free;
	uint64_t addr, size, count;
};

/* A delta report's growth of one stack's outstanding blocks (all of them,
 * old and new) since the mark; negative when they shrank. Keyed, merged and
 * suppressed like a record: by kind (now), family and stack. */
struct la_growth {
	enum la_kind kind;
	char family;
	int64_t dbytes, dblocks;
	struct la_stack stack;
	const struct la_supp *suppressed_by; /* NULL: not suppressed */
	bool shown;         /* grew, by --min-bytes at least, and not suppressed */
	size_t index;       /* growth record number among shown ones, from 1 */
};

struct la_totals {
	uint64_t bytes[LA_NKINDS], blocks[LA_NKINDS];
	uint64_t supp_bytes, supp_blocks;
	size_t supp_grow;   /* growth entries left out by suppressions */
};

struct la_process {
	const char *source;       /* the file this process's report was read from */
	long pid, ppid;
	long forked_from;         /* agent: the pid this process forked from without exec'ing
				   * since; 0 when it started by exec (or the tool cannot tell) */
	const char *exe;
	const char **argv;
	size_t argc;
	const char *trigger;      /* exit, signal, delta, api */
	int fatal_signal;         /* the signal the process died of (exit reports), or 0 */
	unsigned seq;
	uint64_t sec, nsec;
	bool scan_known;          /* a completeness line was present */
	bool scanned;             /* reachability ran; else every record is unclassified */
	uint64_t threads_seen, threads_parked, threads_unparked;
	bool complete;            /* the report was read to its end */
	struct la_record *rec;
	size_t nrec;
	struct la_finding *fin;
	size_t nfin;
	bool delta;               /* records are blocks allocated since the mark only */
	unsigned base_seq;        /* the mark: the previous delta report's seq, 0 = start */
	struct la_growth *grow;   /* delta reports: growth per stack since the mark */
	size_t ngrow;
	const char *diff_old;     /* diff: the older report; records are what grew since */
	unsigned diff_old_seq;
	struct la_totals tot;     /* filled by la_leakset_finish */
	size_t nshown;
	size_t ngrow_shown;       /* growth entries shown (grew), filled by la_leakset_finish */
	unsigned limits;          /* LA_LIMIT_*: what the source cannot tell; 0 for memcheck's four kinds */
};

/* A source that cannot tell every kind says so, and compare never counts a
 * record it could not have reported as a disagreement. */
#define LA_LIMIT_NO_INDIRECT  1u /* lost blocks are all "definite": indirect ones not split off */
#define LA_LIMIT_NO_POSSIBLE  2u /* blocks held only by interior pointers count as live */
#define LA_LIMIT_NO_REACHABLE 4u /* blocks still reachable are not reported */

struct la_leakset {
	struct la_process *proc;
	size_t nproc;
};

/* leakset.c */
const char *la_kind_name(enum la_kind k);      /* "definite", ... "unclassified" */
const char *la_kind_phrase(enum la_kind k);    /* "definitely lost", ... */
int la_kind_parse_list(const char *s, unsigned *mask); /* 0, or -1 naming no kind */
struct la_process *la_leakset_add(struct la_leakset *ls);
/* Sorts processes by pid and report number; merges records (and growth
 * entries) of one kind and family whose first `resolution` machine frames
 * agree (0: the whole stack). */
void la_leakset_merge(struct la_leakset *ls, int resolution);
/* After suppressions: sorts records biggest first, marks those shown
 * (--show-leak-kinds, --min-bytes), numbers them and computes the totals;
 * sorts growth most first and marks the entries that grew by min_bytes or
 * more (--show-leak-kinds does not apply: growth of any kind is shown). */
void la_leakset_finish(struct la_leakset *ls, unsigned show_kinds, uint64_t min_bytes);
/* diff: reduces neu (merged at the same resolution as old, both of one
 * process) to the records that appeared or grew since old, each holding
 * the increase, and to the findings that happened more often. */
void la_leakset_diff(const struct la_process *old, struct la_process *neu);
/* Records and findings that count as errors for --error-exitcode. */
uint64_t la_leakset_errors(const struct la_leakset *ls, unsigned error_kinds, uint64_t min_bytes);

#endif
