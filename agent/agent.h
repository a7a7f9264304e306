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

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "leakagent-raw.h"


#define LA_EXPORT __attribute__((visibility("default")))
#define LA_LIKELY(x) __builtin_expect(!!(x), 1)
#define LA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LA_TLS __thread __attribute__((tls_model("initial-exec")))
/* A large zero-initialised array of which a run touches a page or two: kept
 * apart from the small variables (x86-64's .lbss, placed after .bss), so
 * those share a few pages instead of each sitting on a page of its own
 * between two arrays. */
#define LA_BIG __attribute__((section(".lbss")))

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
	X(scan_anon, BOOL, 1,                                                             \
	  "scan the mappings the program made itself (anonymous or of files) as roots")   \
	X(stop_signal, INT, 40,                                                           \
	  "real-time signal that parks threads for the scan (34-64; under gdb: "          \
	  "handle SIG40 nostop noprint pass)")                                            \
	X(stop_timeout_ms, INT, 200,                                                      \
	  "how long to wait for all threads to park before scanning the rest "            \
	  "conservatively")                                                               \
	X(scan_stats, BOOL, 0, "print the scan's time and memory on stderr")              \
	X(signal_full, INT, 10,                                                           \
	  "signal that writes a full snapshot while the program runs (default SIGUSR1; " \
	  "0: none)")                                                                     \
	X(signal_delta, INT, 12,                                                          \
	  "signal that writes a delta snapshot: blocks allocated since the previous "     \
	  "delta that are still outstanding (default SIGUSR2; 0: none)")                  \
	X(report_on_signal, BOOL, 1,                                                      \
	  "write the exit report before a signal kills the program by its default "      \
	  "action (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, "  \
	  "SIGILL, SIGPIPE, SIGALRM, SIGXCPU, SIGXFSZ)")                                  \
	X(report_on__exit, BOOL, 1, "write the exit report when the program calls _exit") \
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
/* Backs the whole pages of a fresh range with written memory at once. */
void la_prefault(void *p, size_t size);
/* Resizes a la_map mapping, contents kept, maybe moved; NULL: p untouched. */
void *la_remap(void *p, size_t old_size, size_t size);
/* One line "leakagent: <msg>\n" on fd 2 (a vararg list of strings, NULL-ended). */
void la_warn(const char *first, ...) __attribute__((sentinel));
size_t la_strlcpy(char *dst, const char *src, size_t cap);
size_t la_fmt_hex(char *buf, uint64_t v); /* no NUL; returns length */
size_t la_fmt_dec(char *buf, uint64_t v);
/* The numeric entries of a /proc directory (tasks, descriptors), read with
 * raw getdents64 (opendir would malloc): the first max into out; returns
 * how many there are, -1 when it cannot be read. *self (if not NULL) gets
 * the descriptor the listing used, itself an entry of /proc/self/fd. */
int la_proc_numbers(const char *path, int *out, int max, int *self);
/* The calling thread's thread pointer (where its static TLS hangs). */
static inline uintptr_t la_thread_pointer(void)
{
	uintptr_t tp;
#if defined(__x86_64__)
	__asm__("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
#else
	tp = (uintptr_t)__builtin_thread_pointer();
#endif
	return tp;
}
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

/* --- libunwind.c: libunwind, loaded at its first use ----------------------- */
/* unw_backtrace from the caller's frame, this function's own first (an agent
 * frame): the number of frames, 0 when libunwind cannot be loaded. The
 * caller holds the guard. */
int la_libunwind_backtrace(uintptr_t *pcs, int max);
/* la_unwind_call_regs, walked by libunwind. */
int la_libunwind_call_regs(const uintptr_t *funcs, int n, uintptr_t *sp, uintptr_t regs[6]);
void la_libunwind_flush(void); /* after dlclose, once loaded */
void la_libunwind_init(void);  /* start-up: fork handlers, dlerror's place */

/* --- capture.c: the stack of the current allocation ----------------------- */
/* A hook expands la_capture inline, so the walk starts in the hook's own
 * frame and covers exactly the frames the bare shim's unw_backtrace does: the
 * hook's, then the program's. The agent's frames at the top (the hook;
 * realloc(NULL) calling malloc) are dropped by address range. */
extern uintptr_t la_self_text_lo;            /* the agent's own text */
extern uintptr_t la_self_text_hi;
#define LA_CAPTURE_FAST 32 /* deepest capture a hook does in its own frame */
#define LA_CAPTURE_SLACK 2 /* agent frames that capture expects above the program's */
/* Walks up to max frames from the register state (ip, sp, bp) of a frame of
 * the calling thread that is still live, with cached unwind rules, and sets
 * *out to the frames (pcs, or the thread's remembered last walk when this one
 * is provably the same); the first is ip. Returns their number, or -1 when
 * some frame needs more than this walker knows (the caller then uses
 * unw_backtrace, which gives the same frames). Takes no lock of ours, except
 * a try-lock when a rule is new. */
int la_unwind(uintptr_t *pcs, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
	      const uintptr_t **out);
/* After a capture: a word that stays with exactly these frames for as long
 * as this thread's capture remembers them (0 until set), where the caller
 * keeps their stack id; NULL when the frames are not remembered. */
extern LA_TLS uint32_t *la_capture_tag;
/* Fills pcs[0..max) with up to max program frames, however many agent frames
 * are on top and whatever max (up to LA_MAX_DEPTH): for findings, depths
 * beyond LA_CAPTURE_FAST, and a cut inline capture. */
int la_capture_deep(uintptr_t *pcs, int max);
#ifdef LA_CAPTURE_VERIFY
void la_capture_verify(const uintptr_t *pcs, int n, int max); /* warns on a difference */
#endif
/* Unwinds up to max program frames (max <= LA_CAPTURE_FAST) and sets
 * *frames to the first; buf has room for LA_CAPTURE_FAST + LA_CAPTURE_SLACK
 * entries. Returns their number. Cost: the walk plus one range check per
 * agent frame; more agent frames than the slack take la_capture_deep. */
static inline __attribute__((always_inline)) int la_capture(uintptr_t *buf, int max,
							    const uintptr_t **frames)
{
	uintptr_t ip, sp, bp;
	const uintptr_t *pcs;
	/* this very instruction's state: CFI describes it exactly */
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=&r"(ip), "=&r"(sp), "=&r"(bp));
	int n = la_unwind(buf, max + LA_CAPTURE_SLACK, ip, sp, bp, &pcs);
	if (LA_UNLIKELY(n < 0)) {
		n = la_libunwind_backtrace(buf, max + LA_CAPTURE_SLACK);
		pcs = buf; /* la_capture_tag is NULL */
	}
#ifdef LA_CAPTURE_VERIFY /* a test build: every walk checked against libunwind */
	else
		la_capture_verify(pcs, n, max + LA_CAPTURE_SLACK);
#endif
	int skip = 0;

	while (skip < n && pcs[skip] >= la_self_text_lo && pcs[skip] < la_self_text_hi)
		skip++;
	*frames = pcs + skip;
	if (LA_UNLIKELY(n - skip < max && n == max + LA_CAPTURE_SLACK)) {
		*frames = buf; /* the program's frames were cut: unwind again, deeper */
		return la_capture_deep(buf, max);
	}
	return n - skip < max ? n - skip : max;
}
/* The stack pointer and callee-saved registers (rbx, rbp, r12-r15) of the
 * calling thread as they were when it called the function starting at one
 * of funcs[0..n), whose frame must still be live: 1 when found, else 0. */
int la_unwind_call_regs(const uintptr_t *funcs, int n, uintptr_t *sp, uintptr_t regs[6]);
void la_capture_init(void);
void la_capture_flush(void); /* after dlclose: forget cached unwind rules */

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
 * Sharded by address region; each shard is an open-addressed array with
 * linear probing and backward-shift deletion, grown by half at 70% load. */
#define LA_F_FAMILY 0x3    /* 0 malloc, 1 new, 2 new[] */
#define LA_F_IGNORED 0x4   /* leakagent_ignore_object / disabled scope */
#define LA_F_NEW 0x40      /* allocated since the last delta report's mark */
#define LA_F_GEN_SHIFT 8   /* fork generation that allocated the block */
#define LA_F_GEN_MASK 0xff00

enum la_family { LA_MALLOC = 0, LA_NEW = 1, LA_NEW_ARRAY = 2 };
/* the raw format's letter (LA_FAM_*) of each la_family, by LA_F_FAMILY bits */
static const char la_fam_letter[] = { LA_FAM_MALLOC, LA_FAM_NEW, LA_FAM_NEW_ARRAY, '?' };

struct la_block {
	uintptr_t addr;
	uint64_t size;
	uint32_t stack;
	uint16_t flags;
};

/* Start loading addr's slot into the cache: a hook calls it before the
 * unwind, which hides the miss on a large table. No lock; a stale shard is
 * harmless (a prefetch never faults). */
void la_table_prefetch(uintptr_t addr);
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
/* Clear flag bits on every live block (the delta mark); caller holds all locks. */
void la_table_clear_flags_locked(uint16_t clear);
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
/* la_self_text_lo/hi (capture.c section): the agent's own text. */

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
/* Publish the snapshot signals and the template in /proc/PID/maps. */
void la_writer_beacon(void);
extern char la_exe_path[4096];

/* --- snap.c: a frozen, sorted copy of the table for one report ------------ */
/* One entry, 16 bytes (5M blocks: 80 MB):
 *   key:  | address (48) | table flags (16) |   sorted by key = by address
 *   word: | stack id (32) | size (32) |         size 0xffffffff: see huge[]
 * The scan keeps its per-block state in bits 3-5 of the flags, which the
 * table never sets (LA_F_SCAN_MASK), so a snapshot needs no mark array. */
#define LA_F_SCAN_MASK 0x38
struct la_snap_block {
	uint64_t key;
	uint32_t size;
	uint32_t stack;
};
struct la_snap {
	struct la_snap_block *blocks; /* sorted by address */
	size_t n, cap_bytes;
	struct { uintptr_t addr; uint64_t size; } *huge; /* blocks of 4 GiB and more */
	size_t nhuge, huge_cap;
	/* filled by the scan; zero when no scan ran */
	unsigned threads_seen, threads_parked, threads_unparked;
	int scanned;
	struct la_scan_side *side; /* indirect totals of lost blocks (scan.c) */
	size_t nside, side_bytes;
	uint64_t take_ns;          /* time to copy and sort */
};
static inline uintptr_t la_snap_addr(const struct la_snap_block *b) { return (uintptr_t)(b->key >> 16); }
static inline uint16_t la_snap_flags(const struct la_snap_block *b) { return (uint16_t)b->key; }
uint64_t la_snap_size(const struct la_snap *s, const struct la_snap_block *b);
/* Copy the table (caller holds all shard locks) into a sorted array; every
 * block starts with kind U. Returns 0, -1 when out of memory. */
int la_snap_take_locked(struct la_snap *s);
/* The block's kind letter (LA_KIND_*) once the scan ran, U before. */
char la_snap_kind(const struct la_snap *s, const struct la_snap_block *b);
void la_snap_free(struct la_snap *s);

/* --- world.c: stop the world with a signal, no ptrace ----------------------- */
/* Every other thread gets a real-time signal (option stop_signal) whose
 * handler saves its registers and stack pointer into its slot and parks on a
 * futex until la_world_resume. Needs no lock a parked thread may hold. */
#define LA_MAX_THREADS 16384 /* more threads are counted as not parked */
#define LA_NREGS 64
enum { LA_T_SENT = 1, LA_T_PARKED, LA_T_UNPARKED, LA_T_SELF };
struct la_thread {
	pid_t tid;
	int state;              /* LA_T_* */
	uintptr_t sp;           /* stack pointer where it stopped; 0 unknown */
	uintptr_t tp;           /* thread pointer: glibc's struct pthread / TCB */
	int nregs;
	uintptr_t regs[LA_NREGS]; /* general and vector registers, as words */
	/* the system call it slept in when it was sent the stop signal, from
	 * /proc (nr -1: none): the handler restarts it if it was cut short */
	struct la_syscall { long nr; uintptr_t args[6], sp, pc; } sys;
};
struct la_world {
	struct la_thread *t;    /* t[0]: the calling thread */
	size_t n;
	unsigned seen, parked, unparked; /* the calling thread counts as parked */
	uint64_t stop_ns;       /* time to park everybody */
};
/* Saves the caller's registers and stack pointer for t[0]: call it first in
 * the report, so no frame of the scan itself lies above the scanned range.
 * at_exit: the exit report; when the thread is inside exit() (or the agent's
 * _exit), its stack is scanned from where the program called it, and the
 * callee-saved registers the program had then are added (see scan.md). */
void la_world_capture_self(int at_exit) __attribute__((noinline));
/* Looks up, at start-up, the symbols la_world_capture_self needs. */
void la_world_init(void);
/* trigger.c: the agent's _exit, as an address inside the agent */
void la_agent__exit(int status) __attribute__((noreturn));
/* Signals and parks every other thread until the set is stable or the
 * timeout (option stop_timeout_ms) passed. The caller holds all table locks
 * and has finished everything that needs the loader or malloc. */
void la_world_stop(struct la_world *w);
/* Releases the parked threads and waits (bounded) until they left the handler. */
void la_world_resume(struct la_world *w);
/* sigaction on the stop signal once our handler is in: reads and sets the
 * program's action (which its own signals get) and returns 0; -1 for any
 * other signal. */
int la_world_program_action(int sig, const struct sigaction *act, struct sigaction *old);
/* The stop signal's part of la_trigger_exec_begin and _end. */
void la_world_exec_begin(void);
void la_world_exec_end(void);

/* --- roots.c: registered root regions, the agent's own mappings ---------- */
/* Agent mappings are never roots: la_map/la_unmap note them here (lock-free,
 * so fork and signal handlers are safe). */
void la_roots_note_map(void *p, size_t size);
void la_roots_forget_map(void *p, size_t size);
/* Calls fn for each agent mapping / registered region; the world is stopped
 * or the caller tolerates a racy view. */
typedef void (*la_range_fn)(uintptr_t lo, uintptr_t hi, void *ctx);
void la_roots_foreach_agent_map(la_range_fn fn, void *ctx);
/* Copies the registered root regions into out (at most max); takes the
 * roots lock, so call it before stopping the world. Returns how many. */
size_t la_roots_copy(uintptr_t (*out)[2], size_t max);

/* --- scan.c: roots, marking and classification, memcheck's rules --------- */
/* Per-block state, in the snapshot's flag bits LA_F_SCAN_MASK. */
#define LA_S_UNREACHED 0x00 /* definitely lost after the scan */
#define LA_S_REACHABLE 0x08
#define LA_S_POSSIBLE 0x10
#define LA_S_INDIRECT 0x18
#define LA_S_LEADER 0x20    /* a lost block with indirect blocks (side entry) */
struct la_scan_side {
	size_t index;            /* the lost block in the snapshot */
	uint64_t ibytes, iblocks;
};
struct la_scan_prep;
/* Looks up, at start-up, the symbols the scan needs (never dlsym in a
 * report: it would free the calling thread's dlerror state). */
void la_scan_init(void);
/* Everything that needs the loader (dl_iterate_phdr) or the roots
 * lock, before the table locks are taken. Returns NULL when out of memory. */
struct la_scan_prep *la_scan_prepare(void);
/* Marks and classifies s while the world w is stopped; sets s->scanned.
 * Allocates with mmap only, takes no lock. Frees prep. */
void la_scan_run(struct la_scan_prep *prep, struct la_snap *s, struct la_world *w);
void la_scan_discard(struct la_scan_prep *prep); /* when no scan runs; NULL is fine */
/* The indirect totals of snapshot block i (a definitely lost block). */
void la_scan_indirect(const struct la_snap *s, size_t i, uint64_t *ibytes, uint64_t *iblocks);

/* --- report.c: one report, from trigger to file --------------------------- */
/* Writes one report; trigger "exit", "signal", "delta" or "api". A delta
 * report holds the blocks allocated since the previous delta and the growth
 * per stack since then, and sets a new mark. Returns 0 when the file was
 * written. Serialized internally. */
int la_report(const char *trigger, int delta);
void la_report_init(void);       /* reads the command line once, at start */
void la_report_after_fork(void); /* in the child */

/* --- hooks.c: the interposed functions ------------------------------------ */
void la_hooks_resolve(void); /* find the next allocator (dlsym RTLD_NEXT) */

/* --- exec.c: children started by exec and posix_spawn keep the agent ----- */
void la_exec_init(void); /* remembers LEAKAGENT_OPTIONS for children */

/* --- trigger.c: reports asked for while the program runs, or as it dies --- */
/* Installs the snapshot and fatal-signal handlers and starts the reporter
 * thread; again in a fork child (which has no reporter thread). */
void la_trigger_init(void);
void la_trigger_after_fork(void);
/* libc's sigaction, past the agent's wrapper */
int la_trigger_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* Sets sig to SIG_DFL or SIG_IGN (no flags, empty mask), past the wrapper. */
void la_trigger_set_bare(int sig, void (*disposition)(int));
/* Runs a program handler as the kernel would call it (SA_SIGINFO or not). */
void la_trigger_call_handler(const struct sigaction *a, int sig, siginfo_t *si, void *uc);
/* Around exec and posix_spawn: signals the program ignores, but whose
 * handler is the agent's, ignored for real, so what it starts inherits
 * them ignored; then the agent's handlers again. */
void la_trigger_exec_begin(void);
void la_trigger_exec_end(void);
/* Restores sig's default action and raises it on this thread, unblocked. */
void la_trigger_reraise(int sig);
void la_exit_report(void);      /* once per process: exit, _exit, fatal signal */
extern volatile int la_fatal_signal; /* the signal the process is dying of, or 0 */
void la_fatal_resume(void);     /* a fatal signal came while inside the agent */
extern pid_t la_pid;            /* this process; not getpid() in a vfork child */
extern pid_t la_reporter_tid;   /* the snapshot thread, 0 if none */
extern LA_TLS int la_pending_fatal;

/* --- agent.c: lifecycle: init, fork, exit ---------------------------------- */
void la_init(void);
extern int la_ready;          /* init finished, hooks record */
extern LA_TLS int la_guard;   /* >0: inside the agent, pass through */
extern LA_TLS int la_disabled; /* >0: new blocks are ignored */
/* Leave the agent: a fatal signal that arrived meanwhile is acted on now. */
static inline void la_unguard(void)
{
	if (--la_guard == 0 && LA_UNLIKELY(la_pending_fatal))
		la_fatal_resume();
}
const char *la_self_path(void);  /* path of libleakagent.so as loaded */

#endif
