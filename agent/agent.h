/* agent.h: the agent's internal interfaces, grouped by the file that defines
 * them. Everything here may run inside the host program's malloc: no stdio,
 * no malloc, no lock held across a call into the unwinder or the loader.
 *
 * Lock order (never take them in another order):
 *   loader lock (dl_iterate_phdr, dlopen)  -> never taken while holding ours
 *   la_depot lock -> la_table shard locks (ascending) -> la_findings lock
 * A hook holds at most one of our locks at a time.
 */
#ifndef LA_AGENT_H
#define LA_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "leakagent-raw.h"


#define LA_EXPORT __attribute__((visibility("default")))
#define LA_LIKELY(x) __builtin_expect(!!(x), 1)
#define LA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LA_TLS __thread __attribute__((tls_model("initial-exec")))

#define LA_MAX_DEPTH 256

/* --- options.c: the one options table, parsed without malloc --------------- */
/* X(name, type, default, help); type is INT, BOOL or STR */
#define LA_OPTIONS(X)                                                                 \
	X(output, STR, "leakagent.%e.%p.%n.raw",                                          \
	  "report path template: %e program name, %p pid, %n report number, %t trigger, " \
	  "%% a percent sign; relative paths are resolved against the directory the "      \
	  "program started in")                                                           \
	X(depth, INT, 32, "stack frames captured per allocation (1-256)")                 \
	X(report_at_exit, BOOL, 1, "write a report when the program exits")               \
	X(follow_children, BOOL, 1,                                                       \
	  "keep the agent in programs started by exec and posix_spawn")                   \
	X(scan, BOOL, 1, "classify outstanding blocks by a reachability scan")            \
	X(help, BOOL, 0, "print this table on stderr at start")

struct la_options {
#define LA_OPT_FIELD_INT(name) long name;
#define LA_OPT_FIELD_BOOL(name) int name;
#define LA_OPT_FIELD_STR(name) char name[256];
#define LA_OPT_FIELD(name, type, def, help) LA_OPT_FIELD_##type(name)
	LA_OPTIONS(LA_OPT_FIELD)
#undef LA_OPT_FIELD
};
extern struct la_options la_opt;
/* Fills la_opt from defaults and the string (may be NULL); warns on stderr. */
void la_options_parse(const char *s);
void la_options_print_help(int fd);

/* --- util.c: async-signal-safe helpers (no malloc, no stdio) --------------- */
/* mmap-backed memory; returns NULL on failure. Sizes are rounded to pages. */
void *la_map(size_t size);
void la_unmap(void *p, size_t size);
/* One line "leakagent: <msg>\n" on fd 2 (a vararg list of strings, NULL-ended). */
void la_warn(const char *first, ...) __attribute__((sentinel));
size_t la_strlcpy(char *dst, const char *src, size_t cap);
size_t la_fmt_hex(char *buf, uint64_t v); /* no NUL; returns length */
size_t la_fmt_dec(char *buf, uint64_t v);
/* A lock usable in hooks and across fork, with no allocation: one exchange
 * to take it, one plain store to drop it (about 20 cycles uncontended). */
typedef struct { int v; } la_lock_t;
void la_lock_slow(la_lock_t *l);
static inline void la_lock(la_lock_t *l)
{
	if (LA_UNLIKELY(__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE) != 0))
		la_lock_slow(l);
}
static inline void la_unlock(la_lock_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }
static inline void la_lock_init(la_lock_t *l) { l->v = 0; }

/* --- capture.c: the stack of the current allocation ----------------------- */
/* Fills pcs (room for max + 8) with up to max return addresses, innermost first, starting at
 * the caller of the interposed function (agent frames dropped). Takes no lock
 * of ours. Returns the number of frames. */
int la_capture(uintptr_t *pcs, int max);
void la_capture_init(void);
void la_capture_flush(void); /* after dlclose: forget cached unwind info */

/* --- depot.c: each distinct stack stored once, named by a 32-bit id ------- */
/*   entry:  +--------+--------+------------------------+
 *           | hash32 | n (32) | pc[0] ... pc[n-1] (64) |
 *           +--------+--------+------------------------+
 * Append-only; ids start at 1 (0 = no stack); readers need no lock. */
uint32_t la_depot_put(const uintptr_t *pcs, int n);
/* Returns the frames of id and sets *n; NULL for an unknown id. */
const uintptr_t *la_depot_get(uint32_t id, int *n);
uint32_t la_depot_count(void); /* highest id handed out */
size_t la_depot_bytes(void);
void la_depot_lock_all(void);  /* for fork */
void la_depot_unlock_all(void);

/* --- table.c: the live-allocation table ----------------------------------- */
/* One slot, 16 bytes:
 *   word 0: | flags (16) | address (48) |      0 = empty slot
 *   word 1: | stack id (32) | size (32) |      size 0xffffffff = huge, the real
 *                                              size is in the huge side table
 * Sharded by address hash; each shard is an open-addressed array with linear
 * probing and backward-shift deletion, grown at 80% load. */
#define LA_F_FAMILY 0x3    /* 0 malloc, 1 new, 2 new[] */
#define LA_F_IGNORED 0x4   /* leakagent_ignore_object / disabled scope */
#define LA_F_GEN_SHIFT 8   /* fork generation that allocated the block */
#define LA_F_GEN_MASK 0xff00

enum la_family { LA_MALLOC = 0, LA_NEW = 1, LA_NEW_ARRAY = 2 };

struct la_block {
	uintptr_t addr;
	uint64_t size;
	uint32_t stack;
	uint16_t flags;
};

/* Record a new block. Returns 0, -1 when out of memory (block untracked). */
int la_table_insert(uintptr_t addr, uint64_t size, uint32_t stack, uint16_t flags);
/* Remove addr; fills *out and returns 1 when it was tracked, 0 otherwise. */
int la_table_remove(uintptr_t addr, struct la_block *out);
/* Look up without removing; same return as remove. */
int la_table_find(uintptr_t addr, struct la_block *out);
/* Set flag bits on a live block; returns 1 if found. */
int la_table_set_flags(uintptr_t addr, uint16_t set);
/* Lock every shard (ascending) / unlock; while held, the table is frozen. */
void la_table_lock_all(void);
void la_table_unlock_all(void);
/* Call fn for every live block; caller holds all shard locks. */
typedef void (*la_block_fn)(const struct la_block *b, void *ctx);
void la_table_foreach_locked(la_block_fn fn, void *ctx);
size_t la_table_count_locked(void);
size_t la_table_bytes(void); /* memory the table itself uses */
/* Current fork generation: blocks of an older generation are inherited. */
extern unsigned la_generation;

/* --- findings.c: mismatched and invalid frees ----------------------------- */
struct la_finding {
	char what;          /* 'm' mismatch, 'v' invalid */
	char afam, ffam;    /* families as LA_FAM_* letters; afam '-' for invalid */
	uint32_t astack, fstack;
	uintptr_t addr;
	uint64_t size;
	uint64_t count;
};
void la_findings_add(char what, int afam, int ffam, uint32_t astack, uint32_t fstack,
		     uintptr_t addr, uint64_t size);
/* Copies at most max findings into out; returns how many. */
size_t la_findings_copy(struct la_finding *out, size_t max);
void la_findings_lock(void);
void la_findings_unlock(void);

/* --- modules.c: every object ever seen in a stack, with build-id ---------- */
/* Make sure every pc of a new stack lies in a known module, refreshing the
 * registry from dl_iterate_phdr if not. Call with none of our locks held. */
void la_modules_note(const uintptr_t *pcs, int n);
/* Refresh from dl_iterate_phdr and mark which modules are loaded now. */
void la_modules_refresh(void);
struct la_writer;
void la_modules_write(struct la_writer *w);
/* Address range of the agent's own text, for dropping its frames. */
extern uintptr_t la_self_text_lo;
extern uintptr_t la_self_text_hi;

/* --- writer.c: safe, atomic report files ---------------------------------- */
struct la_writer {
	int fd;
	size_t len, lines;
	int failed;
	char buf[65536];
};
/* Expands the template for (trigger, seq), creates a private temporary file
 * beside the destination. Returns 0, or -1 after one line on stderr. */
int la_writer_open(struct la_writer *w, const char *trigger, unsigned seq);
void la_writer_str(struct la_writer *w, const char *s);      /* raw text */
void la_writer_hex(struct la_writer *w, uint64_t v);         /* " <hex>" */
void la_writer_esc(struct la_writer *w, const char *s);      /* " <escaped>" */
void la_writer_tag(struct la_writer *w, char tag);           /* starts a line */
void la_writer_eol(struct la_writer *w);
/* Writes the end marker, syncs and renames into place without clobbering.
 * Returns 0, or -1 after one line on stderr (the temporary is removed). */
int la_writer_commit(struct la_writer *w);
/* Resolve the output directory now (start-up), against the current cwd. */
void la_writer_init(void);
extern char la_exe_path[4096];

/* --- snap.c: a frozen, sorted copy of the table for one report ------------ */
struct la_snap_block {
	uintptr_t addr;
	uint64_t size;
	uint32_t stack;
	uint16_t flags;
	uint8_t kind;  /* LA_KIND_* letter */
	uint8_t mark;  /* scratch for the scan */
};
struct la_snap {
	struct la_snap_block *blocks; /* sorted by addr */
	size_t n, cap_bytes;
	/* filled by the scan; zero when no scan ran */
	unsigned threads_seen, threads_parked, threads_unparked;
	int scanned;
};
/* Copy the table (caller holds all shard locks) into a sorted array. */
int la_snap_take_locked(struct la_snap *s);
void la_snap_free(struct la_snap *s);

/* --- report.c: one report, from trigger to file --------------------------- */
/* Writes one report; trigger "exit", "signal", "delta" or "api".
 * Returns 0 when the file was written. Serialized internally. */
int la_report(const char *trigger);
void la_report_init(void);       /* reads the command line once, at start */
void la_report_after_fork(void); /* in the child */

/* --- hooks.c: the interposed functions ------------------------------------ */
void la_hooks_resolve(void); /* find the next allocator (dlsym RTLD_NEXT) */

/* --- exec.c: children started by exec and posix_spawn keep the agent ----- */
void la_exec_init(void); /* remembers LEAKAGENT_OPTIONS for children */

/* --- agent.c: lifecycle: init, fork, exit ---------------------------------- */
void la_init(void);
extern int la_ready;          /* init finished, hooks record */
extern LA_TLS int la_guard;   /* >0: inside the agent, pass through */
extern LA_TLS int la_disabled; /* >0: new blocks are ignored */
const char *la_self_path(void);  /* path of libleakagent.so as loaded */

#endif
