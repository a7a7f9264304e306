/* collector.h: the collector's internal interfaces, grouped by the file that
 * defines them. The data model shared with other backends is leakset.h; the
 * raw report grammar is include/leakagent-raw.h.
 */
#ifndef LEAKAGENT_COLLECTOR_H
#define LEAKAGENT_COLLECTOR_H

#include <stdarg.h>
#include <stdio.h>

#include "leakset.h"

#define LA_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* --- util.c: memory, strings, diagnostics ------------------------------------ */
/* The collector is a short-lived command: model memory is freed at exit. */
void *la_xmalloc(size_t n);     /* zeroed; exits on failure */
void *la_xrealloc(void *p, size_t n);
char *la_xstrdup(const char *s);
char *la_xasprintf(const char *fmt, ...) LA_ATTR_PRINTF(1, 2);
/* A fresh 0700 directory $TMPDIR/NAME.XXXXXX; NULL after one error line. */
char *la_private_dir(const char *name);
void la_remove_dir(const char *dir); /* its files (one level), then itself */
/* A decimal in [lo, hi]; 0, or -1 when s is not one. */
int la_parse_long(const char *s, long lo, long hi, long *out);
#define LA_GROW(v, n, cap)                                                          \
	do {                                                                        \
		if ((n) == (cap)) {                                                 \
			(cap) = (cap) ? (cap) * 2 : 16;                             \
			(v) = la_xrealloc((v), (cap) * sizeof(*(v)));               \
		}                                                                   \
	} while (0)

/* "leakagent: error: <what>: <why>" on stderr; marks the run as having seen
 * bad input (exit code 2). A hint, when given, follows as "hint: ...". */
void la_error(const char *what, const char *hint, const char *fmt, ...) LA_ATTR_PRINTF(3, 4);
void la_warning(const char *what, const char *fmt, ...) LA_ATTR_PRINTF(2, 3);
extern int la_bad_input;              /* set by la_error */
extern const char *la_problems[];     /* every error and warning, for the json output */
extern size_t la_nproblems;
/* "1,234,567", as memcheck writes numbers; buf of 32 bytes */
const char *la_commas(uint64_t v, char *buf);

/* --- reader.c: the raw report parser ----------------------------------------- */
struct la_raw_module {
	unsigned id;
	uint64_t bias;
	char state;          /* 'L' loaded, 'U' unloaded at report time */
	char *build_id;      /* lowercase hex, NULL when '-' */
	char *path;
	struct { uint64_t vaddr, memsz; } load[16];
	int nload;
};

struct la_raw_stack {
	unsigned id;
	uint64_t *pc;
	size_t n;
};

struct la_raw_record {
	char kind, fam, origin;
	unsigned stack;
	uint64_t bytes, blocks, ibytes, iblocks;
	uint64_t largest_addr[4], largest_size[4];
	int nlargest;
};

/* g line: a stack's outstanding blocks grew (or shrank) since the delta mark */
struct la_raw_growth {
	char kind, fam;
	unsigned stack;
	int64_t dbytes, dblocks;
};

struct la_raw_finding {
	char what;           /* 'm' mismatch, 'v' invalid */
	char afam, ffam;
	unsigned astack, fstack;
	uint64_t addr, size, count;
};

struct la_raw {
	const char *path;
	unsigned version;
	long pid, ppid;
	long forked_from;     /* c line: a forked child that has not exec'd; 0 otherwise */
	char *exe;
	char **argv;
	size_t argc, argcap;
	char *trigger;
	int fatal_signal;     /* k line: the signal the process died of, or 0 */
	unsigned seq;
	uint64_t sec, nsec;
	struct la_raw_module *mod;
	size_t nmod, modcap;
	struct la_raw_stack *stk;   /* sorted by id as written */
	size_t nstk, stkcap;
	struct la_raw_record *rec;
	size_t nrec, reccap;
	struct la_raw_finding *fin;
	size_t nfin, fincap;
	bool delta;          /* a d line: r lines hold only blocks since the mark */
	unsigned base_seq;   /* the mark: report number of the previous delta, 0 = start */
	struct la_raw_growth *grow;
	size_t ngrow, growcap;
	bool have_w, scanned;
	uint64_t w_seen, w_parked, w_unparked;
	bool complete;       /* a consistent e line was read */
};

/* Reads one raw report. Returns 0 when it was read cleanly; -1 after
 * reporting the problem with la_error, in which case *raw still holds all
 * that could be read (nothing if the file could not be opened or is of a
 * newer version). Never modifies the file. */
int la_raw_read(const char *path, struct la_raw *raw);
const struct la_raw_stack *la_raw_stack(const struct la_raw *raw, unsigned id);

/* --- symbolize.c: addresses to functions, files and lines (libdwfl) ---------- */
struct la_sym_options {
	const char *sysroot;     /* prefix for every module path; NULL = / */
	const char **debug_dirs; /* searched before the defaults */
	size_t ndebug_dirs;
};
void la_sym_init(const struct la_sym_options *o);
/* Frames for one recorded address in module m (NULL: no module holds it);
 * cached per module file and address. The frames are shared: do not modify. */
struct la_stack la_sym_lookup(const struct la_raw_module *m, uint64_t ip);
/* Number of distinct addresses symbolized so far (for the timing test). */
size_t la_sym_count(void);

/* --- fromraw.c: the agent backend, raw report to leak set -------------------- */
void la_fromraw(const struct la_raw *raw, struct la_process *p, int num_callers);

/* --- suppress.c: valgrind .supp and LeakSanitizer leak: files ---------------- */
struct la_supp {
	const char *name;
	const char *file;
	int line;
	bool lsan;
	bool builtin;             /* from the built-in default.supp */
	unsigned kinds;           /* match-leak-kinds as a mask */
	const char **pat;         /* valgrind: "fun:x", "obj:x", "src:x", "..."; lsan: one pattern */
	size_t npat;
	uint64_t used;            /* records and growth entries it matched */
	uint64_t used_bytes, used_blocks; /* of the records */
	uint64_t used_growth;     /* of which growth entries */
};
/* Loads one file, detecting its format (leak: lines or { } entries).
 * Returns 0 or -1 after la_error. */
int la_supp_load(const char *path);
/* The file name the built-in default suppressions are listed under. */
#define LA_DEFAULT_SUPP "default.supp (built in)"
/* Loads the built-in default.supp (--default-suppressions=yes). 0 or -1. */
int la_supp_load_default(void);
/* Marks the records and growth entries the first matching suppression hides. */
void la_supp_apply(struct la_leakset *ls);
/* Suppressions loaded but never used, for the end of the report (built-in
 * ones are not listed: valgrind never lists unused default suppressions). */
size_t la_supp_unused(const struct la_supp ***out);
/* Every suppression loaded, in file order, with its use counts. */
size_t la_supp_all(const struct la_supp *const **out);
/* valgrind-format entry for a record's or growth entry's key, as text ending
 * in "}\n" */
char *la_supp_generate(enum la_kind kind, char family, const struct la_stack *st);

/* --- output formats ---------------------------------------------------------- */
enum la_format { LA_FMT_TEXT, LA_FMT_JSON, LA_FMT_XML, LA_FMT_SARIF, LA_FMT_FOLDED };
struct la_out_options {
	unsigned show_kinds;
	bool gen_supp;
	const char *tool_version;
	uint64_t min_bytes;       /* growth entries under it are not shown either */
};
void la_fmt_text(FILE *out, const struct la_leakset *ls, const struct la_out_options *o);
void la_fmt_json(FILE *out, const struct la_leakset *ls, const struct la_out_options *o);
void la_fmt_xml(FILE *out, const struct la_process *p, const struct la_out_options *o);
void la_fmt_sarif(FILE *out, const struct la_leakset *ls, const struct la_out_options *o);
void la_fmt_folded(FILE *out, const struct la_leakset *ls, const struct la_out_options *o);
/* shared helpers (fmt_util.c) */
void la_json_str(FILE *out, const char *s);   /* quoted, escaped; null for NULL */
void la_xml_str(FILE *out, const char *s);    /* escaped text */
const char *la_family_name(char fam);         /* "malloc", "new", "new[]" */
const char *la_src_base(const char *src);     /* file name of a source path */
/* a record's stack frames limited to the process's loss record text; see fmt_text */
void la_frame_where(FILE *out, const struct la_frame *f); /* "fn (file:line)" or "??? (in obj+0xoff)" */

/* --- run.c: running a program under the agent -------------------------------- */
struct la_run_result {
	int status;           /* wait status */
	long pid;             /* the program launched (exec keeps the pid) */
	char *dir;            /* private report directory (removed by la_run_cleanup) */
	char **reports;       /* the files the program and its children wrote */
	size_t nreports;
};
/* Starts argv[0] with the agent preloaded, waits for it. env (NULL for
 * none): "NAME=value" to set and "NAME" to remove in the program's
 * environment, before the agent's own variables. Returns 0, or -1 after
 * la_error when the program could not be started. */
int la_run(char **argv, int depth, char *const *env, struct la_run_result *r);
void la_run_cleanup(struct la_run_result *r);

/* --- target.c: a running process, as /proc shows it ----------------------- */
struct la_target {
	long pid;
	char *what;          /* "pid N (comm)", for messages */
	char *dir;           /* /proc/PID/ or, once main has exited, a live thread's */
	char *exe_base;      /* basename of its executable; NULL when unreadable */
	bool agent_lib;      /* libleakagent.so is mapped */
	bool beacon, bad_beacon; /* the agent's beacon was found / is malformed */
	int sig_full, sig_delta; /* from the beacon; 0 = that trigger is off */
	char *tmpl;          /* absolute output template from the beacon; "" when too long */
};
/* 0, or -1 after la_error: no such process, not ours, exited, maps unreadable. */
int la_target_open(long pid, struct la_target *t);
bool la_target_catches(const struct la_target *t, int sig); /* a handler is installed */
int la_target_state(const struct la_target *t); /* 1 stopped, 0 running, -1 gone */

/* --- snapshot.c: `leakagent snapshot PID` ------------------------------------ */
/* Signals the agent in pid and waits up to `wait` seconds for the report.
 * 0 with *path set; -1 after la_error (cannot snapshot); 1 after la_error
 * on timeout. */
int la_snapshot(long pid, bool delta, double wait, char **path);

/* --- diff.c: `leakagent diff OLD NEW` ---------------------------------------- */
/* Reads both, checks they are complete reports of one process, and leaves in
 * out one process: NEW reduced to what appeared or grew. 0, or -1 after
 * la_error. */
int la_diff_read(const char *oldp, const char *newp, int num_callers, int resolution,
		 struct la_leakset *out);

#endif
