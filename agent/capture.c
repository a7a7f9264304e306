/* capture.c: the stack of the current allocation. The hot path walks the
 * frames itself with the program's own unwind tables (.eh_frame), turned
 * once per return address into a rule kept in a lock-free cache: about the
 * cost of libunwind's unw_backtrace, without its per-frame overhead. It steps
 * over the kernel's signal frames itself (a handler on a small alternate
 * stack has no room for libunwind). Any other frame the walker does not
 * fully understand sends the whole capture to unw_backtrace, so stacks stay
 * what libunwind would give (libunwind.c loads it then). The exit report's
 * walk to the call of exit follows the same tables.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

uintptr_t la_self_text_lo, la_self_text_hi;

/* --- rules: how to find a frame's caller ------------------------------------
 * One 64-bit word per code address (the address of the call instruction for
 * a return address, the exact pc for the first frame):
 *   | flags (8) | ra off/8 (8) | rbp off/8 (8) | unused (8) | cfa off (32) |
 * CFA = (RBP if R_CFA_RBP else RSP) + cfa off; the return address is at
 * CFA + ra off; the caller's RBP at CFA + rbp off when R_RBP_SAVED, else
 * unchanged; the caller's RSP is the CFA (the x86-64 ABI). */
#define R_VALID 0x01
#define R_CFA_RBP 0x02
#define R_RBP_SAVED 0x04
#define R_END 0x08  /* return address undefined: the outermost frame */
#define R_SLOW 0x10 /* beyond this walker: let libunwind do the capture */
#define R_SIGNAL 0x20 /* the kernel's signal frame: registers from its ucontext */

static inline uint64_t rule_make(int flags, int32_t cfa_off, int rbp_off, int ra_off)
{
	return (uint64_t)(uint8_t)flags << 56 | (uint64_t)(uint8_t)(int8_t)(ra_off / 8) << 48 |
	       (uint64_t)(uint8_t)(int8_t)(rbp_off / 8) << 40 | (uint32_t)cfa_off;
}
#define RULE_FLAGS(r) ((int)((r) >> 56))
#define RULE_RA(r) ((intptr_t)(int8_t)((r) >> 48) * 8)
#define RULE_RBP(r) ((intptr_t)(int8_t)((r) >> 40) * 8)
#define RULE_CFA(r) ((intptr_t)(int32_t)(r))

/* --- reading .eh_frame_hdr and .eh_frame (DWARF CFI, GCC's encoding) -------- */

struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t uleb(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; r->p < r->end && shift < 64; shift += 7) {
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t sleb(struct rd *r)
{
	int64_t v = 0;
	int shift = 0;
	uint8_t b;
	do {
		if (r->p >= r->end || shift >= 64) {
			r->bad = 1;
			return 0;
		}
		b = *r->p++;
		v |= (int64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

static uint64_t fixed(struct rd *r, int size)
{
	uint64_t v = 0;
	if (r->p + size > r->end) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->p, (size_t)size); /* little-endian */
	r->p += size;
	return v;
}

/* A pointer in DW_EH_PE encoding enc; pc-relative against the field itself,
 * data-relative against dbase. Unsupported encodings mark the reader bad. */
static uintptr_t encoded(struct rd *r, uint8_t enc, uintptr_t dbase)
{
	uintptr_t at = (uintptr_t)r->p, v;
	if (enc == 0xff)
		return 0; /* omitted */
	switch (enc & 0x0f) {
	case 0x00: v = (uintptr_t)fixed(r, 8); break;
	case 0x01: v = (uintptr_t)uleb(r); break;
	case 0x02: v = (uintptr_t)(uint16_t)fixed(r, 2); break;
	case 0x03: v = (uintptr_t)(uint32_t)fixed(r, 4); break;
	case 0x04: v = (uintptr_t)fixed(r, 8); break;
	case 0x09: v = (uintptr_t)sleb(r); break;
	case 0x0a: v = (uintptr_t)(intptr_t)(int16_t)fixed(r, 2); break;
	case 0x0b: v = (uintptr_t)(intptr_t)(int32_t)fixed(r, 4); break;
	case 0x0c: v = (uintptr_t)fixed(r, 8); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;
	case 0x30: v += dbase; break;
	default: r->bad = 1; return 0;
	}
	if (enc & 0x80) /* indirect */
		v = *(const uintptr_t *)v;
	return v;
}

/* The CFA rule, the return address's rule and the callee-saved registers'
 * (rbx, rbp, r12-r15: the walker follows rbp, the exit walk all six). */
struct cfi_state {
	int cfa_reg;       /* DWARF 7 rsp, 6 rbp */
	int64_t cfa_off;
	int ra_saved, ra_undef, slow;
	int64_t ra_off;
	unsigned saved, other; /* by callee-saved index: at CFA + off[i]; some other rule */
	int64_t off[6];
};

enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };
enum { CS_RBP = 1 }; /* callee-saved index of rbp */

/* The callee-saved index of DWARF register reg (rbx 3, rbp 6, r12-r15), or -1. */
static int callee_saved(uint64_t reg)
{
	return reg == 3 ? 0 : reg == DW_RBP ? CS_RBP : reg >= 12 && reg <= 15 ? (int)reg - 10 : -1;
}

static void set_offset(struct cfi_state *s, uint64_t reg, int64_t off)
{
	int i = callee_saved(reg);
	if (i >= 0) {
		s->saved |= 1u << i;
		s->other &= ~(1u << i);
		s->off[i] = off;
	} else if (reg == DW_RA) {
		s->ra_saved = 1;
		s->ra_undef = 0;
		s->ra_off = off;
	} else if (reg == DW_RSP) {
		s->slow = 1;
	}
}

/* Any rule other than "saved at CFA + n" (same value: keep 0): rsp, rbp and
 * the return address are beyond the walker; the others only the exit walk's. */
static void set_other(struct cfi_state *s, uint64_t reg, int same)
{
	int i = callee_saved(reg);
	if (reg == DW_RBP ? !same : reg == DW_RSP || reg == DW_RA)
		s->slow = 1;
	if (i >= 0) {
		s->saved &= ~(1u << i);
		s->other = same ? s->other & ~(1u << i) : s->other | 1u << i;
	}
}

/* Runs CFA instructions from loc until the address passes target (target 0:
 * all of them, for a CIE). init holds the CIE's state for DW_CFA_restore. */
static void cfi_run(struct rd *r, struct cfi_state *s, const struct cfi_state *init, uintptr_t loc,
		    uintptr_t target, uint64_t code_align, int64_t data_align)
{
	struct cfi_state stack[8];
	int depth = 0, i;

	while (r->p < r->end && !r->bad && !s->slow) {
		uint8_t op = *r->p++;
		uint64_t reg, delta = 0;
		switch (op & 0xc0) {
		case 0x40: delta = (op & 0x3f) * code_align; goto advance;
		case 0x80: set_offset(s, op & 0x3f, (int64_t)uleb(r) * data_align); continue;
		case 0xc0:
			reg = op & 0x3f;
			goto restore;
		}
		switch (op) {
		case 0x00: continue; /* nop */
		case 0x02: delta = fixed(r, 1) * code_align; goto advance;
		case 0x03: delta = fixed(r, 2) * code_align; goto advance;
		case 0x04: delta = fixed(r, 4) * code_align; goto advance;
		case 0x05: reg = uleb(r); set_offset(s, reg, (int64_t)uleb(r) * data_align); continue;
		case 0x06: reg = uleb(r); goto restore;
		case 0x07: /* undefined */
			reg = uleb(r);
			if (reg == DW_RA && !r->bad) {
				s->ra_undef = 1;
				s->ra_saved = 0;
			} else {
				set_other(s, reg, 0);
			}
			continue;
		case 0x08: set_other(s, uleb(r), 1); continue; /* same value */
		case 0x09: set_other(s, uleb(r), 0); set_other(s, uleb(r), 0); continue; /* register */
		case 0x0a:
			if (depth == 8)
				s->slow = 1;
			else
				stack[depth++] = *s;
			continue;
		case 0x0b:
			if (depth == 0)
				s->slow = 1;
			else
				*s = stack[--depth];
			continue;
		case 0x0c: s->cfa_reg = (int)uleb(r); s->cfa_off = (int64_t)uleb(r); continue;
		case 0x0d: s->cfa_reg = (int)uleb(r); continue;
		case 0x0e: s->cfa_off = (int64_t)uleb(r); continue;
		case 0x10: /* expression */
		case 0x16: /* val_expression */
			set_other(s, uleb(r), 0);
			delta = uleb(r);
			if (r->p + delta > r->end)
				r->bad = 1;
			else
				r->p += delta;
			continue;
		case 0x11: reg = uleb(r); set_offset(s, reg, sleb(r) * data_align); continue;
		case 0x12: s->cfa_reg = (int)uleb(r); s->cfa_off = sleb(r) * data_align; continue;
		case 0x13: s->cfa_off = sleb(r) * data_align; continue;
		case 0x2e: uleb(r); continue; /* GNU_args_size */
		default: s->slow = 1; continue; /* def_cfa_expression, val_offset, ... */
		}
	advance:
		loc += delta;
		if (target && loc > target)
			return;
		continue;
	restore:
		if ((i = callee_saved(reg)) >= 0) {
			unsigned bit = 1u << i;
			s->saved = (s->saved & ~bit) | (init->saved & bit);
			s->other = (s->other & ~bit) | (init->other & bit);
			s->off[i] = init->off[i];
		} else if (reg == DW_RA) {
			s->ra_saved = init->ra_saved;
			s->ra_undef = init->ra_undef;
			s->ra_off = init->ra_off;
		} else {
			set_other(s, reg, 0);
		}
	}
	if (r->bad)
		s->slow = 1;
}

/* glibc 2.35's lock-free address-to-object lookup, found at start so that
 * an older glibc still runs the agent (every capture then goes through
 * libunwind). */
static int (*find_object)(void *pc, struct dl_find_object *out);

/* A handler returns to `mov $15, %rax; syscall` (rt_sigreturn), the kernel
 * having left a ucontext_t where the return address was; the offsets of the
 * interrupted rbp, rsp and rip in it (uc_mcontext.gregs[REG_RBP/RSP/RIP]). */
static const uint8_t sigreturn_code[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
enum { UC_RBP = 120, UC_RSP = 160, UC_RIP = 168 };

enum { CFI_OK, CFI_SIGNAL, CFI_SLOW };

/* The unwind state at code address pc (already the call instruction's
 * address for a return address) and the start of its function: CFI_OK,
 * CFI_SIGNAL for the kernel's signal frame, CFI_SLOW for anything beyond
 * this reader. Needs no lock; reads only the object's mapped tables. */
static int cfi_at(uintptr_t pc, struct cfi_state *s, uintptr_t *func)
{
	struct dl_find_object fo;

	if (!find_object || find_object((void *)pc, &fo) != 0 || !fo.dlfo_eh_frame)
		return CFI_SLOW;
	const uint8_t *hdr = fo.dlfo_eh_frame;
	struct rd r = { hdr + 4, hdr + 4 + 64, 0 };
	if (hdr[0] != 1 || hdr[3] != 0x3b) /* version 1, table: datarel sdata4 */
		return CFI_SLOW;
	encoded(&r, hdr[1], (uintptr_t)hdr); /* eh_frame_ptr */
	uint64_t count = encoded(&r, hdr[2], (uintptr_t)hdr);
	if (r.bad || count == 0)
		return CFI_SLOW;
	const int32_t *table = (const int32_t *)r.p;
	size_t lo = 0, hi = count; /* last entry with initial location <= pc */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if ((uintptr_t)hdr + (intptr_t)table[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	const uint8_t *fde = hdr + table[2 * lo + 1];

	/* the FDE and its CIE */
	uint32_t len = (uint32_t)fixed(&(struct rd){ fde, fde + 4, 0 }, 4);
	if (len == 0 || len == 0xffffffffu)
		return CFI_SLOW;
	const uint8_t *cie = fde + 4 - (uint32_t)fixed(&(struct rd){ fde + 4, fde + 8, 0 }, 4);
	uint32_t clen = (uint32_t)fixed(&(struct rd){ cie, cie + 4, 0 }, 4);
	if (clen == 0 || clen == 0xffffffffu || cie[4] | cie[5] | cie[6] | cie[7])
		return CFI_SLOW;
	struct rd c = { cie + 9, cie + 4 + clen, 0 };
	const char *aug = (const char *)c.p;
	if (cie[8] != 1 && cie[8] != 3)
		return CFI_SLOW;
	c.p += strnlen(aug, (size_t)(c.end - c.p)) + 1;
	uint64_t code_align = uleb(&c);
	int64_t data_align = sleb(&c);
	uint64_t ra_reg = cie[8] == 1 ? fixed(&c, 1) : uleb(&c);
	uint8_t fde_enc = 0;
	int has_z = aug[0] == 'z', signal = 0;
	if (has_z) {
		uint64_t alen = uleb(&c);
		const uint8_t *after = c.p + alen;
		for (const char *a = aug + 1; *a && !c.bad; a++) {
			if (*a == 'R')
				fde_enc = (uint8_t)fixed(&c, 1);
			else if (*a == 'P')
				encoded(&c, (uint8_t)fixed(&c, 1) & 0x7f, 0); /* skip, never deref */
			else if (*a == 'L')
				fixed(&c, 1);
			else if (*a == 'S')
				signal = 1;
			else
				return CFI_SLOW; /* anything unknown */
		}
		c.p = after;
	} else if (aug[0]) {
		return CFI_SLOW;
	}
	if (c.bad || c.p > c.end || ra_reg != DW_RA)
		return CFI_SLOW;

	struct rd f = { fde + 8, fde + 4 + len, 0 };
	uintptr_t start = encoded(&f, fde_enc, 0);
	uintptr_t range = encoded(&f, fde_enc & 0x0f, 0);
	if (has_z) {
		uint64_t alen = uleb(&f);
		f.p += alen;
	}
	if (f.bad || f.p > f.end || pc < start || pc - start >= range)
		return CFI_SLOW; /* no FDE covers pc */
	*func = start;
	if (signal) /* pc + 1 returns from a handler: the kernel's frame is ours
		     * only behind its own rt_sigreturn trampoline */
		return memcmp((const void *)(pc + 1), sigreturn_code, sizeof(sigreturn_code)) ?
			       CFI_SLOW : CFI_SIGNAL;

	struct cfi_state init;
	*s = (struct cfi_state){ .cfa_reg = DW_RSP };
	cfi_run(&c, s, s, 0, 0, code_align, data_align);
	init = *s;
	cfi_run(&f, s, &init, start, pc, code_align, data_align);
	return s->slow || (s->cfa_reg != DW_RSP && s->cfa_reg != DW_RBP) ? CFI_SLOW : CFI_OK;
}

/* The rule for code address pc, from its unwind state. */
static uint64_t rule_compute(uintptr_t pc)
{
	const uint64_t slow = rule_make(R_VALID | R_SLOW, 0, 0, 0);
	struct cfi_state s;
	uintptr_t func;
	int k = cfi_at(pc, &s, &func);

	if (k == CFI_SIGNAL)
		return rule_make(R_VALID | R_SIGNAL | R_RBP_SAVED, 0, 0, 0);
	if (k != CFI_OK || s.cfa_off != (int32_t)s.cfa_off)
		return slow;
	int rbp_saved = s.saved >> CS_RBP & 1;
	int64_t rbp_off = rbp_saved ? s.off[CS_RBP] : 0;
	if (s.ra_undef)
		return rule_make(R_VALID | R_END, 0, 0, 0);
	if (!s.ra_saved || s.ra_off % 8 || s.ra_off / 8 != (int8_t)(s.ra_off / 8) ||
	    rbp_off % 8 || rbp_off / 8 != (int8_t)(rbp_off / 8))
		return slow;
	return rule_make(R_VALID | (s.cfa_reg == DW_RBP ? R_CFA_RBP : 0) |
				 (rbp_saved ? R_RBP_SAVED : 0),
			 (int32_t)s.cfa_off, (int)rbp_off, (int)s.ra_off);
}

/* --- the rule cache ----------------------------------------------------------
 * Open addressing, key = code address, value = rule; an entry is written
 * once (value, then key with release) and only ever cleared whole by
 * la_capture_flush, so readers take no lock. Grown by four at half full; an outgrown array stays mapped for
 * readers still in it. Inserts take a try-lock: a thread that finds it busy
 * lets libunwind do this one capture instead of waiting. */
struct cache {
	size_t mask, used;
	struct { uint64_t key, rule; } e[];
};

static struct cache *cache;
static la_lock_t cache_lock;

/* The key is read again after the rule: la_capture_flush may clear a slot
 * and an insert reuse it between the two reads. */
static inline uint64_t cache_get(const struct cache *c, uintptr_t pc)
{
	for (size_t i = (pc * 0x9e3779b97f4a7c15ull) >> 40 & c->mask;; i = (i + 1) & c->mask) {
		uint64_t k = __atomic_load_n(&c->e[i].key, __ATOMIC_ACQUIRE);
		if (k == pc) {
			uint64_t rule = __atomic_load_n(&c->e[i].rule, __ATOMIC_ACQUIRE);
			return __atomic_load_n(&c->e[i].key, __ATOMIC_RELAXED) == pc ? rule : 0;
		}
		if (k == 0)
			return 0;
	}
}

static void cache_put_locked(struct cache *c, uintptr_t pc, uint64_t rule)
{
	size_t i = (pc * 0x9e3779b97f4a7c15ull) >> 40 & c->mask;
	while (c->e[i].key)
		i = (i + 1) & c->mask;
	__atomic_store_n(&c->e[i].rule, rule, __ATOMIC_RELAXED);
	__atomic_store_n(&c->e[i].key, pc, __ATOMIC_RELEASE);
	c->used++;
}

static struct cache *cache_new(size_t cap)
{
	struct cache *c = la_map(sizeof(*c) + cap * sizeof(c->e[0]));
	if (c)
		c->mask = cap - 1;
	return c;
}

/* Slow path of a walk: compute the rule and publish it. 0 when the cache
 * lock is busy or memory ran out (the caller falls back to libunwind). */
static uint64_t __attribute__((noinline)) rule_miss(uintptr_t pc)
{
	if (__atomic_exchange_n(&cache_lock.v, 1, __ATOMIC_ACQUIRE) != 0)
		return 0;
	struct cache *c = cache;
	uint64_t rule = c ? cache_get(c, pc) : 0;
	if (!rule) {
		rule = rule_compute(pc);
		if (!c || (c->used + 1) * 2 > c->mask + 1) {
			struct cache *nc = cache_new(c ? (c->mask + 1) * 4 : 128); /* one page */
			if (nc && c)
				for (size_t i = 0; i <= c->mask; i++)
					if (c->e[i].key)
						cache_put_locked(nc, c->e[i].key, c->e[i].rule);
			if (nc)
				__atomic_store_n(&cache, nc, __ATOMIC_RELEASE);
			c = nc;
		}
		if (c)
			cache_put_locked(c, pc, rule);
	}
	la_unlock(&cache_lock);
	return rule;
}

/* --- the walk ----------------------------------------------------------------
 * From any frame on, a walk is a pure function of that frame's state (code
 * address, sp and, if some later frame's CFA uses it before it is reloaded,
 * bp), the rules, and the stack words it reads. Each thread remembers its
 * last walk: per frame that state, the words read (with the frame whose CFA
 * located them) and the frames found. When a new walk reaches a frame with
 * the same state as a remembered one (an allocation from the same place, or
 * from a new place under the same callers) and every remembered word from
 * there on still holds its value, the rest of the walk would be the same:
 * it is copied after a few independent loads instead of a chain of
 * dependent ones. Words are checked in walk order, so no address is touched
 * that the walk itself would not touch. A few whole walks are kept, so a
 * loop that allocates from a few places reuses each place's walk whole. */
#define MEMO_FRAMES (LA_CAPTURE_FAST + LA_CAPTURE_SLACK)
struct memo {
	unsigned gen;      /* flush_gen the rules came from */
	int n, nreads;     /* n 0: nothing remembered */
	int complete;      /* ended at the outermost frame, not at max */
	int bp0;           /* the walk depends on the bp it started with */
	uint32_t tag;      /* the caller's name for these frames (a stack id); 0 none */
	uintptr_t sp[MEMO_FRAMES], key[MEMO_FRAMES], bp[MEMO_FRAMES];
	uint8_t flags[MEMO_FRAMES]; /* rule flags, for frames whose rule was used */
	uintptr_t addr[2 * MEMO_FRAMES], word[2 * MEMO_FRAMES];
	uint8_t owner[2 * MEMO_FRAMES];
	uintptr_t pcs[MEMO_FRAMES];
};
/* Walks remembered per thread: the allocation sites of a program's inner
 * loop. With 4, a third of python3's captures matched a whole walk and the
 * rest hashed and compared 32 frames in the depot (a tenth of its time
 * under the agent); with 16, 99.6% match. sqlite3, about 25 places a
 * statement, matches 73% with 16 and 99.9% with 32. A memo is 2.3 KiB, its
 * pages touched only once a walk is kept there, so a thread starts with 16
 * and takes 32 only once its walks keep replacing each other. */
#define MEMOS 32
#define MEMOS_FEW 16
#define GROW_AFTER 4096 /* walks replaced before a thread takes all MEMOS */
static unsigned flush_gen;          /* bumped by la_capture_flush: rules changed */
LA_TLS uint32_t *la_capture_tag;

/* A thread's walks live in agent memory, not in static TLS (74 KiB): glibc
 * carves static TLS out of every thread's stack, which left a thread made
 * with a 16 KiB stack about 3 KiB, and the scan reads TLS as a root, where
 * the rbp values a walk keeps held blocks the program had dropped. Taken at
 * a thread's first capture, given back by a key destructor at its exit. */
struct memos {
	/* head_of(ip, sp) of each memo's walk, 0 none: a capture compares
	 * these words, in four lines, not a line or two of every memo */
	uintptr_t head[MEMOS];
	uint8_t after[MEMOS]; /* the memo whose walk came after each one's last */
	struct memo m[MEMOS];
	int cur;            /* the latest; suffixes are taken from it */
	int used;           /* memos ever given a walk */
	int cap;            /* memos in use: MEMOS_FEW, then MEMOS */
	unsigned replaced;  /* walks replaced while cap was MEMOS_FEW */
	uint64_t rnd;       /* picks the memo a new walk replaces */
	struct memos *next; /* in the spare list */
};
#define MEMOS_PER_MAP 16
static LA_TLS struct memos *mine;
static LA_TLS int mine_gone; /* given back: this thread is exiting */
static pthread_key_t mine_key;
static int mine_key_ok;
static la_lock_t spare_lock;
static struct memos *spare;
static struct memos *unused; /* the rest of the latest mapping, untouched */
static int unused_left;

static void memos_give_back(void *p)
{
	struct memos *s = p;
	mine = NULL;
	mine_gone = 1;
	/* before the lock: a handler's capture meanwhile sees mine_gone, and
	 * never waits for a lock its own thread holds */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	la_lock(&spare_lock);
	s->next = spare;
	spare = s;
	la_unlock(&spare_lock);
}

/* NULL: no memory, no key, or the thread is past its key destructor (its
 * captures then go to libunwind). */
static struct memos *__attribute__((noinline)) memos_take(void)
{
	if (mine_gone || !mine_key_ok)
		return NULL;
	la_lock(&spare_lock);
	struct memos *s = spare;
	if (s) {
		spare = s->next;
		memset(s->head, 0, sizeof(s->head));
		for (int i = 0; i < MEMOS; i++)
			if (s->m[i].n) /* a dead thread's walks: harmless, but of no use */
				s->m[i].n = 0; /* (a page it never used stays clean) */
	} else {
		/* fresh memory is zeroed, no walk in it, and stays untouched */
		/* handed out one by one, so a program with one thread never
		 * touches the pages of the other fifteen */
		if (!unused_left && (unused = la_map(MEMOS_PER_MAP * sizeof(*s))) != NULL)
			unused_left = MEMOS_PER_MAP;
		if (unused_left) {
			s = unused++;
			unused_left--;
		}
	}
	la_unlock(&spare_lock);
	if (!s)
		return NULL;
	s->cur = s->used = 0;
	s->cap = MEMOS_FEW;
	s->replaced = 0;
	if (pthread_setspecific(mine_key, s) != 0) {
		memos_give_back(s);
		return NULL;
	}
	return mine = s;
}

static inline void depend(struct memo *m, uintptr_t at, uintptr_t w, int owner)
{
	m->addr[m->nreads] = at;
	m->word[m->nreads] = w;
	m->owner[m->nreads++] = (uint8_t)owner;
}

/* Does the remembered walk from frame i on depend on the bp it starts with? */
static int needs_bp(const struct memo *o, int i)
{
	for (int last = o->complete ? o->n : o->n - 1; i < last; i++) {
		if (o->flags[i] & R_CFA_RBP)
			return 1;
		if (o->flags[i] & R_RBP_SAVED)
			return 0;
	}
	return 0;
}

/* Can new frame j (state sp, key, bp) take the rest of old walk o from its
 * frame i? Checks o's words from frame i on. */
static int suffix_holds(const struct memo *o, int i, int j, int max, uintptr_t bp)
{
	if (!o->complete && o->n - i < max - j)
		return 0; /* o was cut before the new walk would be */
	if (o->bp[i] != bp && needs_bp(o, i))
		return 0;
	for (int r = 0; r < o->nreads; r++)
		if (o->owner[r] >= i && *(const uintptr_t *)o->addr[r] != o->word[r])
			return 0;
	return 1;
}

/* Walks into pcs and m; o is the last walk (o->n 0 if none). */
static int walk(uintptr_t *pcs, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp, struct memo *m,
		const struct memo *o)
{
	const struct cache *c = __atomic_load_n(&cache, __ATOMIC_ACQUIRE);
	uintptr_t key = ip, bp_at = 0; /* where bp was read; 0: the start's */
	int n = 0, bp_owner = 0, bp_pending = 0, i = 0;

	m->nreads = 0;
	m->complete = 0;
	pcs[n++] = ip;
	for (;;) {
		int j = n - 1; /* the frame of pcs[j], state (key, sp, bp) */
		m->sp[j] = sp;
		m->key[j] = key;
		m->bp[j] = bp;
		while (i < o->n && o->sp[i] < sp)
			i++;
		if (i < o->n && o->sp[i] == sp && o->key[i] == key && suffix_holds(o, i, j, max, bp)) {
			if (bp_pending && needs_bp(o, i))
				depend(m, bp_at, bp, bp_owner);
			int k = o->n - i < max - j ? o->n - i : max - j;
			for (int f = 1; f < k; f++) {
				pcs[j + f] = o->pcs[i + f];
				m->sp[j + f] = o->sp[i + f];
				m->key[j + f] = o->key[i + f];
				m->bp[j + f] = o->bp[i + f];
			}
			for (int f = 0; f < k; f++)
				m->flags[j + f] = o->flags[i + f];
			for (int r = 0; r < o->nreads; r++) /* the kept frames' words */
				if (o->owner[r] >= i && o->owner[r] < i + k)
					depend(m, o->addr[r], o->word[r], o->owner[r] - i + j);
			m->complete = o->complete && o->n - i <= max - j;
			return j + k;
		}
		if (n == max)
			return n;
		uint64_t rule = c ? cache_get(c, key) : 0;
		if (LA_UNLIKELY(!rule)) {
			rule = rule_miss(key);
			c = __atomic_load_n(&cache, __ATOMIC_ACQUIRE);
		}
		int flags = RULE_FLAGS(rule);
		if (LA_UNLIKELY(!(flags & R_VALID) || (flags & R_SLOW)))
			return -1;
		m->flags[j] = (uint8_t)flags;
		if (flags & R_END) {
			m->complete = 1;
			return n;
		}
		if (LA_UNLIKELY(flags & R_SIGNAL)) {
			/* sp is the kernel's ucontext: the interrupted frame's
			 * registers, and its pc is exact (no call instruction) */
			uintptr_t ip_at = sp + UC_RIP, sp_at = sp + UC_RSP;
			uintptr_t rip = *(const uintptr_t *)ip_at;
			depend(m, ip_at, rip, j);
			sp = *(const uintptr_t *)sp_at;
			depend(m, sp_at, sp, j);
			bp_at = sp_at - UC_RSP + UC_RBP;
			bp = *(const uintptr_t *)bp_at;
			bp_owner = j;
			bp_pending = 1;
			if (LA_UNLIKELY(rip == 0))
				return -1;
			pcs[n++] = rip;
			key = rip;
			continue;
		}
		if ((flags & R_CFA_RBP) && bp_pending) {
			depend(m, bp_at, bp, bp_owner); /* the saved rbp matters after all */
			bp_pending = 0;
		}
		uintptr_t cfa = (flags & R_CFA_RBP ? bp : sp) + (uintptr_t)RULE_CFA(rule);
		uintptr_t ra_at = cfa + (uintptr_t)RULE_RA(rule);
		uintptr_t ra = *(const uintptr_t *)ra_at;
		depend(m, ra_at, ra, j);
		if (flags & R_RBP_SAVED) {
			bp_at = cfa + (uintptr_t)RULE_RBP(rule);
			bp = *(const uintptr_t *)bp_at;
			bp_owner = j;
			bp_pending = 1;
		}
		sp = cfa;
		if (LA_UNLIKELY(ra == 0))
			return -1; /* a chain libunwind ends its own way */
		pcs[n++] = ra;
		key = ra - 1; /* the call instruction: its frame's state */
	}
}

/* A filter on a walk's start, never 0; whole_holds decides. */
static inline uintptr_t head_of(uintptr_t ip, uintptr_t sp)
{
	return (ip ^ sp * 0x9e3779b97f4a7c15ull) | 1;
}

/* Is remembered walk o, in full, what a walk from (ip, sp, bp) would give? */
static inline int whole_holds(const struct memo *o, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
			      unsigned gen)
{
	if (!o->n || o->key[0] != ip || o->sp[0] != sp || o->gen != gen || (o->bp[0] != bp && o->bp0) ||
	    (o->complete ? o->n > max : o->n != max))
		return 0;
	int r = 0;
	while (r < o->nreads && *(const uintptr_t *)o->addr[r] == o->word[r])
		r++;
	return r == o->nreads;
}

int la_unwind(uintptr_t *pcs, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
	      const uintptr_t **out)
{
	static const struct memo none;
	unsigned gen = __atomic_load_n(&flush_gen, __ATOMIC_ACQUIRE);

	struct memos *s = mine;

	*out = pcs;
	la_capture_tag = NULL;
	if (max > MEMO_FRAMES || (LA_UNLIKELY(!s) && !(s = memos_take())))
		return -1;
	/* the latest first (a loop allocating from one place stops there), then
	 * the one that followed it last time (a loop over a few places), then
	 * the others in turn */
	int c = s->cur, a = s->after[c], i = whole_holds(&s->m[c], max, ip, sp, bp, gen) ? c : -1;
	uintptr_t h = head_of(ip, sp);
	if (i < 0 && s->head[a] == h && whole_holds(&s->m[a], max, ip, sp, bp, gen))
		i = a;
	for (int k = 1, j = c; i < 0 && k < s->used; k++) {
		j = j + 1 == s->used ? 0 : j + 1;
		if (s->head[j] == h && whole_holds(&s->m[j], max, ip, sp, bp, gen))
			i = j;
	}
	if (i >= 0) {
		struct memo *hit = &s->m[i];
		*out = hit->pcs; /* read in place: no copy, no store to forward */
		la_capture_tag = &hit->tag;
		if (i != c)
			s->after[c] = (uint8_t)i;
		s->cur = i;
		return hit->n;
	}
	const struct memo *o = &s->m[c];
	/* The next unused memo (so a thread with few places touches few pages),
	 * then any but the latest (the suffix source), at random: a loop that
	 * allocates from more places than there are memos keeps most of them.
	 * Oldest-first keeps none: sqlite3 matched 19% of its captures whole
	 * with it, 73% at random. */
	int w = s->used;
	if (w < s->cap) {
		s->used++;
	} else {
		if (s->cap < MEMOS && ++s->replaced == GROW_AFTER)
			s->cap = MEMOS; /* the next walks fill the new memos */
		s->rnd = s->rnd * 6364136223846793005ull + 1442695040888963407ull;
		w = (int)((s->rnd >> 32) * (unsigned)(s->cap - 1) >> 32);
		w += w >= c;
	}
	struct memo *m = &s->m[w];
	int n = walk(pcs, max, ip, sp, bp, m, o->n && o->gen == gen ? o : &none);
	m->n = 0;
	s->head[w] = n > 0 ? h : 0;
	if (n > 0) {
		memcpy(m->pcs, pcs, sizeof(*pcs) * (size_t)n);
		m->n = n;
		m->gen = gen;
		m->bp0 = needs_bp(m, 0);
		m->tag = 0;
		la_capture_tag = &m->tag;
		s->after[c] = (uint8_t)w;
		s->cur = w;
	}
	return n;
}

/* Every rule goes: keys cleared in place (a reader racing with this misses
 * and recomputes), and remembered walks made with them stop matching. */
static void cache_clear_locked(void)
{
	struct cache *c = cache;
	if (c) {
		for (size_t i = 0; i <= c->mask; i++)
			__atomic_store_n(&c->e[i].key, 0, __ATOMIC_RELEASE);
		c->used = 0;
	}
	__atomic_fetch_add(&flush_gen, 1, __ATOMIC_RELEASE);
}

static void cache_after_fork(void)
{
	/* their holders, if any, are not in the child: a flush or an insert
	 * cut short leaves rules of unknown age, so they all go */
	int busy = __atomic_load_n(&cache_lock.v, __ATOMIC_RELAXED) != 0;
	la_lock_init(&cache_lock);
	la_lock_init(&spare_lock);
	if (busy)
		cache_clear_locked();
}

void la_capture_init(void)
{
	pthread_atfork(NULL, NULL, cache_after_fork);
	mine_key_ok = pthread_key_create(&mine_key, memos_give_back) == 0;
	find_object = (int (*)(void *, struct dl_find_object *))dlsym(RTLD_DEFAULT, "_dl_find_object");
}

/* --- the registers at a call ------------------------------------------------
 * The exit report scans the exiting thread as it was when it called exit:
 * from that call's stack pointer, with the callee-saved registers (rbx, rbp,
 * r12-r15) it had then. A walk from here with each frame's full rules; a
 * frame beyond them sends the walk to libunwind, as a capture's does. */

/* 1 with the state after the frame of a function starting at one of
 * funcs[0..n), 0 when no such frame is found before the outermost or a
 * signal frame, -1 when some frame is beyond the rules. */
static int __attribute__((noinline)) call_regs_own(const uintptr_t *funcs, int n, uintptr_t *sp_out,
						    uintptr_t regs[6])
{
	uintptr_t r[6], ip, sp;
	/* this very instruction's state: CFI describes it exactly */
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbx, 0(%2)\n\t"
			 "mov %%rbp, 8(%2)\n\tmov %%r12, 16(%2)\n\tmov %%r13, 24(%2)\n\t"
			 "mov %%r14, 32(%2)\n\tmov %%r15, 40(%2)"
			 : "=&r"(ip), "=&r"(sp)
			 : "r"(r)
			 : "memory");
	for (int depth = 0; depth < 64; depth++) {
		struct cfi_state s;
		uintptr_t func;
		int k = cfi_at(depth ? ip - 1 : ip, &s, &func);
		if (k == CFI_SIGNAL)
			return 0; /* a handler's stack is not the program's call */
		if (k != CFI_OK || s.other || (!s.ra_saved && !s.ra_undef))
			return -1;
		if (s.ra_undef)
			return 0;
		uintptr_t cfa = (s.cfa_reg == DW_RBP ? r[CS_RBP] : sp) + (uintptr_t)s.cfa_off;
		if (cfa <= sp)
			return -1;
		for (int i = 0; i < 6; i++)
			if (s.saved >> i & 1)
				r[i] = *(const uintptr_t *)(cfa + (uintptr_t)s.off[i]);
		ip = *(const uintptr_t *)(cfa + (uintptr_t)s.ra_off);
		sp = cfa;
		for (int i = 0; i < n; i++)
			if (func == funcs[i]) {
				*sp_out = sp;
				memcpy(regs, r, sizeof(r));
				return 1;
			}
		if (!ip)
			return 0;
	}
	return 0;
}

int la_unwind_call_regs(const uintptr_t *funcs, int n, uintptr_t *sp, uintptr_t regs[6])
{
	int k = call_regs_own(funcs, n, sp, regs);
	return k >= 0 ? k : la_libunwind_call_regs(funcs, n, sp, regs);
}

/* Unwinds with room for any number of agent frames on top: whenever the
 * buffer filled up before max program frames were seen, again with twice
 * the slack. Costs one more unwound frame than la_capture (this one). */
int __attribute__((noinline)) la_capture_deep(uintptr_t *pcs, int max)
{
	la_capture_tag = NULL;
	for (int slack = 16;; slack *= 2) {
		uintptr_t buf[max + slack];
		int n = la_libunwind_backtrace(buf, max + slack);
		int skip = 0;

		while (skip < n && buf[skip] >= la_self_text_lo && buf[skip] < la_self_text_hi)
			skip++;
		if (n - skip >= max || n < max + slack || slack >= 1024) {
			n = n - skip < max ? n - skip : max;
			memcpy(pcs, buf + skip, sizeof(*pcs) * (size_t)n);
			return n;
		}
	}
}

#ifdef LA_CAPTURE_VERIFY
/* Called from the same frame as the walk: libunwind's frames after its first
 * (the hook, at another instruction) must be the walk's. */
void __attribute__((noinline)) la_capture_verify(const uintptr_t *pcs, int n, int max)
{
	uintptr_t ref[max + 2];
	int m = la_libunwind_backtrace(ref, max + 2) - 2; /* its own frame and this one's */
	if (m > max)
		m = max;
	int same = m == n;
	for (int i = 1; same && i < n; i++)
		same = ref[i + 2] == pcs[i];
	if (!same) {
		char a[20], b[20];
		a[la_fmt_dec(a, (uint64_t)n)] = 0;
		b[la_fmt_dec(b, (uint64_t)m)] = 0;
		la_warn("capture differs from libunwind: frames ", a, " vs ", b, NULL);
		for (int i = 0; i < n || i < m; i++) {
			char x[20] = "-", y[20] = "-";
			if (i < n)
				x[la_fmt_hex(x, pcs[i])] = 0;
			if (i < m)
				y[la_fmt_hex(y, ref[i + 2])] = 0;
			la_warn("  ", x, " ", y, NULL);
		}
	}
}
#endif

/* After dlclose: an unloaded object's addresses may be reused by the next
 * one, so every cached rule goes (keys cleared in place; a reader racing
 * with this misses and recomputes). */
void la_capture_flush(void)
{
	la_lock(&cache_lock);
	cache_clear_locked();
	la_unlock(&cache_lock);
	la_libunwind_flush();
}
