/* scan.c: the reachability scan: roots (globals, thread stacks, registers and
 * TLS, the program's own anonymous mappings, registered regions, ignored
 * blocks), an iterative flood fill over the sorted snapshot, then memcheck's
 * classification (reachable, possibly, definitely and indirectly lost).
 * la_scan_prepare runs before the table locks (it needs the loader lock);
 * la_scan_run runs with the world stopped: mmap only, no lock, no stdio.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MAX_MODS 4096
#define MAX_SEGS 16384
#define MAX_REG_ROOTS 1024
#define PAGE 4096u
#define RED_ZONE 128          /* x86-64 leaf functions keep data below sp */
#define REGION_SHIFT 24       /* lookup directory: 16 MiB regions ... */
#define PAGE_SHIFT 12         /* ... of 4 KiB pages */
#define PAGES_PER_REGION (1u << (REGION_SHIFT - PAGE_SHIFT))
#define DIR_MIN_BLOCKS 32     /* fewer block starts: binary search instead */
#define GLIBC_HEAP_MAX (64u << 20) /* glibc's non-main arena heaps: aligned to this */
#define PREFETCH_WINDOW 16
#define CAND_WINDOW 16

struct range {
	uintptr_t lo, hi;
};

/* how a root range counts its pointers */
enum { INTERIOR_TOO = 1, START_ONLY = 2 };

/* Mapped whole, touched only as far as filled: the counts first, so that a
 * small program's preparation writes two pages. */
struct la_scan_prep {
	size_t bytes;
	size_t nseg, nspan, nroots;
	uintptr_t allocator_pc;       /* an address in the real malloc's module */
	size_t tls_static_size, pthread_size;
	struct range span[MAX_MODS];  /* whole modules: not anonymous roots */
	struct {
		uintptr_t lo, hi;
		int mode;             /* START_ONLY for the allocator's own data */
	} seg[MAX_SEGS];              /* writable PT_LOADs of every module but ours */
	struct range roots[MAX_REG_ROOTS];
};

struct map {
	uintptr_t lo, hi;
	char r, w, x, shared, anon, guard, special; /* special: [heap], [stack], [v*] */
	char device;                              /* a device file but /dev/zero */
	char claimed;                             /* a thread's stack, scanned already */
};

struct scan {
	struct la_snap *s;
	struct la_snap_block *b;
	size_t n;
	uintptr_t min, span; /* cheap filter: p - min < span */
	/* lookup directory: l1[(p - l1_base) >> REGION_SHIFT] is 0 or 1 + the
	 * offset in pool of PAGES_PER_REGION + 1 lower bounds, one per page */
	uint32_t *l1;
	size_t l1_n, l1_bytes;
	uintptr_t l1_base;
	uint32_t *pool;
	size_t pool_bytes;
	/* mark stack of snapshot indices; each block is pushed at most twice
	 * while marking from roots and once more while grouping lost blocks */
	uint32_t *stack;
	size_t top, cap, stack_bytes, max_top;
	struct map *maps;
	size_t nmaps, maps_bytes;
	char *maps_text;
	size_t maps_text_bytes;
	struct range *excl;
	size_t nexcl, excl_cap, excl_bytes;
	char *copy; /* file mappings are scanned through a copy (see scan_copied) */
	/* pointers found but not yet looked up: their snapshot entries are
	 * prefetched on entry and resolved CAND_WINDOW pointers later */
	struct cand {
		uintptr_t p;
		uint32_t lo, hi;
		int definite;
	} cand[CAND_WINDOW];
	size_t cand_head, cand_count;
	int clique_mode;
	size_t leader;
	uint64_t cl_bytes, cl_blocks;
};

/* --- before the locks ----------------------------------------------------- */

static int prep_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct la_scan_prep *p = data;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int self = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr, e = a + ph->p_memsz;
		if (a < lo)
			lo = a;
		if (e > hi)
			hi = e;
		if ((ph->p_flags & PF_X) && la_self_text_lo >= a && la_self_text_lo < e)
			self = 1;
	}
	if (lo >= hi)
		return 0;
	int allocator = p->allocator_pc >= lo && p->allocator_pc < hi;
	if (p->nspan < MAX_MODS)
		p->span[p->nspan++] = (struct range){ lo, hi };
	if (self)
		return 0; /* the agent's own bookkeeping is never a root */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && p->nseg < MAX_SEGS) {
			uintptr_t a = info->dlpi_addr + ph->p_vaddr;
			p->seg[p->nseg].lo = a;
			p->seg[p->nseg].hi = a + ph->p_memsz;
			p->seg[p->nseg++].mode = allocator ? START_ONLY : INTERIOR_TOO;
		}
	}
	return 0;
}

/* What the scan needs from the loader, looked up once at start-up: glibc's
 * static TLS size and sizeof(struct pthread) (symbols it exports for
 * debuggers) and the real malloc. Never at report time: a dlsym that
 * succeeds frees the calling thread's dlerror state (glibc keeps a failed
 * call's message for dlerror() until the next dl call), which would take
 * the program's pending error away and, freed under our guard, leave its
 * blocks in the table as lost. */
static size_t tls_static_size, pthread_size;
static uintptr_t allocator_pc;

void la_scan_init(void)
{
	void (*info)(size_t *, size_t *) =
		(void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	const unsigned *sz = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
	size_t align = 0;
	if (info)
		info(&tls_static_size, &align);
	pthread_size = sz ? *sz : 2304;
	allocator_pc = (uintptr_t)dlsym(RTLD_NEXT, "malloc");
}

struct la_scan_prep *la_scan_prepare(void)
{
	struct la_scan_prep *p = la_map(sizeof(*p));
	if (!p)
		return NULL;
	p->bytes = sizeof(*p);
	/* The allocator's bookkeeping (glibc's main_arena: top, bins) points at
	 * chunk headers, which overlap the last word of the live block before
	 * them: as interior pointers they would turn lost blocks into "possibly
	 * lost". In the real malloc's own data only start pointers count. */
	p->allocator_pc = allocator_pc;
	dl_iterate_phdr(prep_cb, p);
	p->tls_static_size = tls_static_size;
	p->pthread_size = pthread_size;
	uintptr_t (*r)[2] = (uintptr_t(*)[2])p->roots;
	p->nroots = la_roots_copy(r, MAX_REG_ROOTS);
	return p;
}

void la_scan_discard(struct la_scan_prep *p)
{
	if (p)
		la_unmap(p, p->bytes);
}

/* --- the lookup: which block does a word point into? ------------------------ */

static inline uintptr_t addr_of(const struct scan *c, size_t i)
{
	return la_snap_addr(&c->b[i]);
}

static inline unsigned state_of(const struct scan *c, size_t i)
{
	return (unsigned)c->b[i].key & LA_F_SCAN_MASK;
}

static inline void set_state(struct scan *c, size_t i, unsigned st)
{
	c->b[i].key = (c->b[i].key & ~(uint64_t)LA_F_SCAN_MASK) | st;
}

/* Which block does p point into? Split in two so that the scan can overlap
 * the cache misses of many lookups: lookup_range narrows p to the blocks that
 * start in its page (one directory load), lookup_finish binary-searches them
 * (a few entries) and checks the bounds. Outside the directory, a binary
 * search over everything. */
static inline void lookup_range(const struct scan *c, uintptr_t p, uint32_t *lo, uint32_t *hi)
{
	uint32_t off = c->l1[(p - c->l1_base) >> REGION_SHIFT];
	if (off) {
		const uint32_t *pages = c->pool + off - 1;
		size_t k = (p >> PAGE_SHIFT) & (PAGES_PER_REGION - 1);
		*lo = pages[k];
		*hi = pages[k + 1];
	} else {
		*lo = 0;
		*hi = (uint32_t)c->n;
	}
}

static inline long lookup_finish(const struct scan *c, uintptr_t p, size_t lo, size_t hi)
{
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr_of(c, mid) <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	size_t j = lo - 1;
	uintptr_t a = addr_of(c, j);
	uint64_t sz = c->b[j].size;
	if (LA_UNLIKELY(sz == 0xffffffffu))
		sz = la_snap_size(c->s, &c->b[j]);
	/* memcheck: a pointer to a zero-sized block points at it */
	if (p - a < sz || (sz == 0 && p == a))
		return (long)j;
	return -1;
}

static long lookup(const struct scan *c, uintptr_t p)
{
	uint32_t lo, hi;
	lookup_range(c, p, &lo, &hi);
	return lookup_finish(c, p, lo, hi);
}

/* First index whose address is >= p. */
static size_t lower_bound(const struct scan *c, uintptr_t p)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr_of(c, mid) < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int build_directory(struct scan *c)
{
	if (!c->n)
		return 0;
	c->l1_base = c->min & ~(((uintptr_t)1 << REGION_SHIFT) - 1);
	c->l1_n = ((c->min + c->span - 1 - c->l1_base) >> REGION_SHIFT) + 1;
	c->l1_bytes = c->l1_n * sizeof(uint32_t);
	c->l1 = la_map(c->l1_bytes);
	if (!c->l1)
		return -1;
	/* count the regions that deserve a page directory */
	size_t nreg = 0;
	for (size_t i = 0; i < c->n;) {
		uintptr_t r = addr_of(c, i) >> REGION_SHIFT;
		size_t j = i;
		while (j < c->n && addr_of(c, j) >> REGION_SHIFT == r)
			j++;
		nreg += j - i >= DIR_MIN_BLOCKS;
		i = j;
	}
	if (!nreg)
		return 0;
	c->pool_bytes = nreg * (PAGES_PER_REGION + 1) * sizeof(uint32_t);
	c->pool = la_map(c->pool_bytes);
	if (!c->pool)
		return -1;
	size_t used = 0;
	for (size_t i = 0; i < c->n;) {
		uintptr_t r = addr_of(c, i) >> REGION_SHIFT;
		size_t j = i;
		while (j < c->n && addr_of(c, j) >> REGION_SHIFT == r)
			j++;
		if (j - i >= DIR_MIN_BLOCKS) {
			uint32_t *pages = c->pool + used;
			size_t at = i;
			for (size_t k = 0; k < PAGES_PER_REGION; k++) {
				uintptr_t start = (r << REGION_SHIFT) + ((uintptr_t)k << PAGE_SHIFT);
				while (at < j && addr_of(c, at) < start)
					at++;
				pages[k] = (uint32_t)at;
			}
			pages[PAGES_PER_REGION] = (uint32_t)j;
			c->l1[((r << REGION_SHIFT) - c->l1_base) >> REGION_SHIFT] = (uint32_t)(used + 1);
			used += PAGES_PER_REGION + 1;
		}
		i = j;
	}
	return 0;
}

/* --- marking --------------------------------------------------------------- */

/* The side entry of a lost block with indirect blocks; entries are appended
 * in index order, so a binary search finds it. */
static struct la_scan_side *side_of(const struct la_snap *s, size_t i)
{
	size_t lo = 0, hi = s->nside;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->side[mid].index < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nside && s->side[lo].index == i ? &s->side[lo] : NULL;
}

static inline void push(struct scan *c, size_t i)
{
	if (LA_UNLIKELY(c->top == c->cap))
		return; /* cannot happen: cap bounds the pushes (see struct scan) */
	c->stack[c->top++] = (uint32_t)i;
	if (c->top > c->max_top)
		c->max_top = c->top;
	/* the block is scanned a window later: start loading it now */
	const char *a = (const char *)addr_of(c, i);
	uint32_t sz = c->b[i].size;
	__builtin_prefetch(a);
	if (sz > 64)
		__builtin_prefetch(a + 64);
	if (sz > 128)
		__builtin_prefetch(a + 128);
	if (sz > 192)
		__builtin_prefetch(a + 192);
}

/* --- memcheck's leak-check heuristics ---------------------------------------
 * Interior pointers that memcheck (mc_leakcheck.c, heuristic_reachedness)
 * treats as start pointers when they come from a root or a reachable block,
 * all four on by default:
 *   stdstring  p == block + 24, the block's second word (capacity) is in
 *              1 .. size - 24 (the pre-C++11 libstdc++ string rep);
 *   length64   p == block + 8, the first word is size - 8;
 *   newarray   p == block + 8, the first word n > 0 divides size - 8 (the
 *              array cookie of new[] for elements with a destructor);
 *   multipleinheritance  p aligned, and both the word at p and the block's
 *              first word are vtable addresses (a pointer to a secondary
 *              base of a polymorphic object). */

static size_t map_at(const struct scan *c, uintptr_t p);

/* The mapping holding [p, p + 8), or NULL if it is not all in one readable
 * mapping. */
static const struct map *word_map(const struct scan *c, uintptr_t p)
{
	size_t m = map_at(c, p);
	if (m >= c->nmaps || c->maps[m].lo > p || !c->maps[m].r || c->maps[m].hi - p < 8)
		return NULL;
	return &c->maps[m];
}

/* A mapping of a file (valgrind's SkFileC): not anonymous, not [heap] etc. */
static int file_backed(const struct map *m)
{
	return m && !m->anon && !m->special;
}

/* memcheck's aligned_ptr_above_page0_is_vtable_addr: v is in a readable file
 * mapping, and among its first 20 words (not past the mapping's last word)
 * the first two non-null ones point into executable file mappings. */
static int vtable_addr(const struct scan *c, uintptr_t v)
{
	const struct map *m = word_map(c, v);
	if (!file_backed(m))
		return 0;
	uintptr_t max = v + 20 * sizeof(uintptr_t);
	if (max > m->hi - 1 - sizeof(uintptr_t)) /* as memcheck: seg->end is inclusive */
		max = m->hi - 1 - sizeof(uintptr_t);
	int nfn = 0;
	for (uintptr_t a = v; a <= max; a += sizeof(uintptr_t)) {
		uintptr_t fn = *(const uintptr_t *)a;
		if (!fn)
			continue;
		size_t k = map_at(c, fn);
		if (k >= c->nmaps || c->maps[k].lo > fn || !file_backed(&c->maps[k]) ||
		    !c->maps[k].x)
			return 0;
		if (++nfn == 2)
			return 1;
	}
	return 0;
}

static int heuristic(const struct scan *c, uintptr_t p, size_t j)
{
	uintptr_t a = addr_of(c, j);
	uint64_t sz = c->b[j].size;
	if (LA_UNLIKELY(sz == 0xffffffffu))
		sz = la_snap_size(c->s, &c->b[j]);
	const size_t W = sizeof(uintptr_t);
	if (sz < W || (a & (W - 1)))
		return 0;
	/* small blocks are readable (scan_block reads them whole); big ones may
	 * have pages the program protected */
	int big = sz >= PAGE;
	if (big && !word_map(c, a))
		return 0;
	const uintptr_t *w = (const uintptr_t *)a;
	if (p == a + 3 * W) { /* stdstring: length, capacity, refcount, chars, NUL */
		if (big && !word_map(c, a + W))
			return 0;
		uintptr_t cap = w[1];
		if (3 * W + cap + 1 == sz && w[0] <= cap)
			return 1;
	}
	if (p == a + W) {
		uint64_t n = w[0];
		if (n > 0 && sz - W == n) /* length64 */
			return 1;
		if (n > 0 && (sz - W) % n == 0) /* newarray */
			return 1;
	}
	/* multipleinheritance */
	if ((p & (W - 1)) || p + W > a + sz || (big && !word_map(c, p)))
		return 0;
	uintptr_t inner = *(const uintptr_t *)p, first = w[0];
	if ((inner & (W - 1)) || inner < PAGE || (first & (W - 1)) || first < PAGE)
		return 0;
	return vtable_addr(c, inner) && vtable_addr(c, first);
}

/* memcheck's rules. From roots and reachable blocks: a start pointer makes
 * a block reachable (so does an interior pointer one of memcheck's heuristics
 * accepts), any other interior pointer possibly lost; everything a possibly
 * lost block points to is possibly lost at best. Grouping lost blocks: any
 * pointer from the current group makes an unreached block indirect. */
static void found(struct scan *c, uintptr_t p, long j, int definite)
{
	if (j < 0)
		return;
	unsigned st = state_of(c, (size_t)j);
	if (c->clique_mode) {
		if (st != LA_S_UNREACHED && st != (LA_S_UNREACHED | LA_S_LEADER))
			return;
		if ((size_t)j == c->leader)
			return; /* a cycle back to the group's first block */
		uint64_t sz = c->b[j].size;
		if (LA_UNLIKELY(sz == 0xffffffffu))
			sz = la_snap_size(c->s, &c->b[j]);
		c->cl_bytes += sz;
		c->cl_blocks++;
		if (st & LA_S_LEADER) { /* an earlier group joins this one */
			struct la_scan_side *sd = side_of(c->s, (size_t)j);
			if (sd) {
				c->cl_bytes += sd->ibytes;
				c->cl_blocks += sd->iblocks;
				sd->ibytes = sd->iblocks = 0;
			}
		}
		set_state(c, (size_t)j, LA_S_INDIRECT);
		push(c, (size_t)j);
		return;
	}
	int start = p == addr_of(c, (size_t)j);
	if (definite == START_ONLY && !start)
		return;
	/* memcheck's default heuristics (--leak-check-heuristics=all): from a
	 * root or a reachable block, these interior pointers count as start
	 * pointers */
	if (!start && definite && st != LA_S_REACHABLE && heuristic(c, p, (size_t)j))
		start = 1;
	unsigned want = definite && start ? LA_S_REACHABLE : LA_S_POSSIBLE;
	if (st == LA_S_UNREACHED || (st == LA_S_POSSIBLE && want == LA_S_REACHABLE)) {
		set_state(c, (size_t)j, want);
		push(c, (size_t)j);
	}
}

static void resolve_one(struct scan *c)
{
	struct cand *k = &c->cand[c->cand_head];
	c->cand_head = (c->cand_head + 1) % CAND_WINDOW;
	c->cand_count--;
	found(c, k->p, lookup_finish(c, k->p, k->lo, k->hi), k->definite);
}

static void resolve_all(struct scan *c)
{
	while (c->cand_count)
		resolve_one(c);
}

/* A word that passed the filter: prefetch where its block must be, look it
 * up CAND_WINDOW words later. */
static inline void candidate(struct scan *c, uintptr_t p, int definite)
{
	if (c->cand_count == CAND_WINDOW)
		resolve_one(c);
	struct cand *k = &c->cand[(c->cand_head + c->cand_count++) % CAND_WINDOW];
	k->p = p;
	k->definite = definite;
	lookup_range(c, p, &k->lo, &k->hi);
	__builtin_prefetch(&c->b[(k->lo + k->hi) / 2]);
	if (k->hi - k->lo > 1)
		__builtin_prefetch(&c->b[k->hi - 1]);
}

/* The one scanning primitive: every aligned word of [lo, hi). The filter is
 * one subtraction and one compare, so words that cannot be heap addresses
 * (small integers, text, stack) cost almost nothing. */
static void scan_words(struct scan *c, uintptr_t lo, uintptr_t hi, int definite)
{
	lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
	if (hi < lo + sizeof(uintptr_t))
		return;
	/* whole words only, as memcheck: a block's last partial word is not read */
	const uintptr_t *w = (const uintptr_t *)lo;
	const uintptr_t *end = (const uintptr_t *)(hi & ~(uintptr_t)(sizeof(uintptr_t) - 1));
	uintptr_t min = c->min, span = c->span;
	for (; w < end; w++) {
		uintptr_t p = *w;
		if (LA_UNLIKELY(p - min < span))
			candidate(c, p, definite);
	}
}

/* First mapping whose end is above p. */
static size_t map_at(const struct scan *c, uintptr_t p)
{
	size_t lo = 0, hi = c->nmaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->maps[mid].hi <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A root range that may not be (fully) mapped: only its readable parts. */
static void scan_root_mode(struct scan *c, uintptr_t lo, uintptr_t hi, int mode)
{
	for (size_t m = map_at(c, lo); m < c->nmaps && c->maps[m].lo < hi; m++) {
		if (!c->maps[m].r)
			continue;
		uintptr_t a = lo > c->maps[m].lo ? lo : c->maps[m].lo;
		uintptr_t e = hi < c->maps[m].hi ? hi : c->maps[m].hi;
		if (a < e)
			scan_words(c, a, e, mode);
	}
}

static void scan_root(struct scan *c, uintptr_t lo, uintptr_t hi)
{
	scan_root_mode(c, lo, hi, INTERIOR_TOO);
}

static void scan_block(struct scan *c, size_t i)
{
	uintptr_t a = addr_of(c, i);
	uint64_t sz = c->b[i].size;
	int definite = state_of(c, i) == LA_S_REACHABLE;
	if (LA_UNLIKELY(sz >= PAGE)) {
		/* big blocks may have pages the program made unreadable */
		if (LA_UNLIKELY(sz == 0xffffffffu))
			sz = la_snap_size(c->s, &c->b[i]);
		for (size_t m = map_at(c, a); m < c->nmaps && c->maps[m].lo < a + sz; m++) {
			if (!c->maps[m].r)
				continue;
			uintptr_t lo = a > c->maps[m].lo ? a : c->maps[m].lo;
			uintptr_t hi = a + sz < c->maps[m].hi ? a + sz : c->maps[m].hi;
			if (lo < hi)
				scan_words(c, lo, hi, definite);
		}
		return;
	}
	scan_words(c, a, a + sz, definite);
}

/* Iterative flood fill. Blocks go through a small FIFO window between the
 * stack and the scan, prefetched on entry: following a linked list costs a
 * cache miss per node, and the window overlaps PREFETCH_WINDOW of them. */
static void flood(struct scan *c)
{
	uint32_t win[PREFETCH_WINDOW];
	size_t head = 0, count = 0;
	for (;;) {
		while (count < PREFETCH_WINDOW && c->top)
			win[(head + count++) % PREFETCH_WINDOW] = c->stack[--c->top];
		if (!count) {
			if (!c->cand_count)
				return;
			resolve_all(c); /* may push more */
			continue;
		}
		uint32_t i = win[head];
		head = (head + 1) % PREFETCH_WINDOW;
		count--;
		scan_block(c, i);
	}
}

/* --- the process's memory map ---------------------------------------------- */

static uintptr_t parse_hex(const char **s)
{
	uintptr_t v = 0;
	for (;; (*s)++) {
		char ch = **s;
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v * 16 + (uintptr_t)d;
	}
}

/* The maps with open/read into mmap'd memory (no stdio: a parked thread may
 * hold a FILE lock). The calling thread's view: once main has called
 * pthread_exit, /proc/self/maps (the zombie leader's) is empty. */
static int read_maps(struct scan *c)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = la_map(cap);
	int fd = open("/proc/thread-self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) /* before Linux 3.17 */
		fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0) {
		if (fd >= 0)
			close(fd);
		la_unmap(buf, cap);
		return -1;
	}
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = la_map(cap * 2);
			if (!nb)
				break;
			memcpy(nb, buf, len);
			la_unmap(buf, cap);
			buf = nb;
			cap *= 2;
		}
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = 0;
	c->maps_text = buf;
	c->maps_text_bytes = cap;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	c->maps_bytes = (lines + 1) * sizeof(struct map);
	c->maps = la_map(c->maps_bytes);
	if (!c->maps)
		return -1;
	for (const char *s = buf; *s;) {
		struct map *m = &c->maps[c->nmaps];
		memset(m, 0, sizeof(*m));
		m->lo = parse_hex(&s);
		if (*s == '-')
			s++;
		m->hi = parse_hex(&s);
		while (*s == ' ')
			s++;
		m->r = s[0] == 'r';
		m->w = s[1] == 'w';
		m->x = s[2] == 'x';
		m->shared = s[3] == 's';
		int none = s[0] == '-' && s[1] == '-' && s[2] == '-';
		/* offset, device, inode, then the path (if any) */
		for (int f = 0; f < 4 && *s && *s != '\n'; f++) {
			while (*s && *s != ' ' && *s != '\n')
				s++;
			while (*s == ' ')
				s++;
		}
		const char *path = s;
		m->anon = *path == '\n' || *path == 0 || strncmp(path, "[anon:", 6) == 0 ||
			  strncmp(path, "[anon_shmem:", 12) == 0;
		m->special = *path == '[' && !m->anon;
		/* memcheck skips device mappings, which reading may disturb, but
		 * /dev/zero; not a path either: anon_inode:[io_uring], ... */
		m->device = !m->anon && !m->special &&
			    (*path != '/' || (strncmp(path, "/dev/", 5) == 0 &&
					      strncmp(path, "/dev/zero", 9) != 0 &&
					      strncmp(path, "/dev/shm/", 9) != 0));
		m->guard = none && m->anon;
		while (*s && *s != '\n')
			s++;
		if (*s)
			s++;
		if (m->hi > m->lo)
			c->nmaps++;
	}
	return 0;
}

/* --- roots ----------------------------------------------------------------- */

static void add_excl(struct scan *c, uintptr_t lo, uintptr_t hi)
{
	if (c->nexcl < c->excl_cap && lo < hi)
		c->excl[c->nexcl++] = (struct range){ lo, hi };
}

static void excl_agent_cb(uintptr_t lo, uintptr_t hi, void *ctx)
{
	add_excl(ctx, lo, hi);
}

static void sort_ranges(struct range *v, size_t n)
{
	/* shell sort: a few thousand ranges, no recursion, no scratch */
	static const size_t gaps[] = { 1750, 701, 301, 132, 57, 23, 10, 4, 1 };
	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++)
		for (size_t i = gaps[g]; i < n; i++) {
			struct range x = v[i];
			size_t j = i;
			while (j >= gaps[g] && v[j - gaps[g]].lo > x.lo) {
				v[j] = v[j - gaps[g]];
				j -= gaps[g];
			}
			v[j] = x;
		}
}

/* The DTV is malloc'd by glibc and its pointer in the TCB points one entry
 * past the start (dtv[-1] holds the length): an interior pointer that must
 * not make glibc's own block "possibly lost". LSan makes the same exception;
 * here only for the main thread and cached stacks: memcheck reports a live
 * thread's DTV possibly lost, and so do we.
 * ended: the TCB is in a stack glibc keeps for reuse after its thread ended.
 * Its DTV and the dynamic TLS blocks the DTV holds (each entry's to_free
 * is a block's start) are glibc's, and reachable, but not scanned: the
 * values in them are a gone thread's, and what only they point to is lost
 * (memcheck, whose freeres frees the cached stacks' TLS, says definitely
 * lost). */
static void mark_dtv(struct scan *c, uintptr_t tp, int ended)
{
#if defined(__x86_64__)
	uintptr_t at = tp + sizeof(uintptr_t); /* tcbhead_t: tcb, dtv, self */
#else
	uintptr_t at = tp; /* variant I: tp points at dtv */
#endif
	size_t m = map_at(c, at);
	if (!tp || m == c->nmaps || c->maps[m].lo > at || !c->maps[m].r)
		return;
	uintptr_t dtv = *(const uintptr_t *)at;
	long j = dtv - c->min < c->span ? lookup(c, dtv) : -1;
	if (j < 0 || state_of(c, (size_t)j) == LA_S_REACHABLE)
		return;
	set_state(c, (size_t)j, LA_S_REACHABLE);
	if (!ended) {
		push(c, (size_t)j);
		return;
	}
	uintptr_t a = addr_of(c, (size_t)j);
	const uintptr_t *w = (const uintptr_t *)a;
	size_t n = la_snap_size(c->s, &c->b[j]) / sizeof(uintptr_t);
	for (size_t i = 0; i < n; i++) {
		long k = w[i] - c->min < c->span ? lookup(c, w[i]) : -1;
		if (k >= 0 && addr_of(c, (size_t)k) == w[i] &&
		    state_of(c, (size_t)k) == LA_S_UNREACHED)
			set_state(c, (size_t)k, LA_S_REACHABLE);
	}
}

/* A thread's TCB inside a stack mapping we scan whole: glibc's struct pthread
 * sits at the top and begins with two pointers to itself (tcb, then self at
 * word 2). */
static uintptr_t find_tcb(const struct scan *c, uintptr_t lo, uintptr_t hi)
{
	(void)c;
	uintptr_t from = hi - 16 * sizeof(uintptr_t);
	uintptr_t stop = hi - lo > 65536 ? hi - 65536 : lo;
	for (uintptr_t a = from & ~(uintptr_t)63; a >= stop && a < hi; a -= 64) {
		const uintptr_t *w = (const uintptr_t *)a;
		if (w[0] == a && w[2] == a)
			return a;
	}
	return 0;
}

static void scan_threads(struct scan *c, const struct la_scan_prep *p, struct la_world *w,
			 int *lost_stacks)
{
	*lost_stacks = 0;
	for (size_t i = 0; i < w->n; i++) {
		struct la_thread *t = &w->t[i];
		int st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
		if (st == LA_T_PARKED || st == LA_T_SELF) {
			scan_words(c, (uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs), 1);
			size_t m = map_at(c, t->sp);
			if (m < c->nmaps && c->maps[m].lo <= t->sp) {
				uintptr_t from = st == LA_T_SELF ? t->sp : t->sp - RED_ZONE;
				if (from < c->maps[m].lo)
					from = c->maps[m].lo;
				scan_words(c, from, c->maps[m].hi, 1);
				c->maps[m].claimed = 1;
			}
			/* static TLS below the thread pointer, struct pthread above */
			if (t->tp) {
				uintptr_t top = t->tp + p->pthread_size;
				uintptr_t bottom = p->tls_static_size < top ? top - p->tls_static_size : 0;
				scan_root(c, bottom, top);
				if (t->tid == getpid())
					mark_dtv(c, t->tp, 0);
			}
		} else if (st == LA_T_UNPARKED) {
			/* It may be running: its whole stack mapping, conservatively. */
			size_t m = t->sp ? map_at(c, t->sp) : c->nmaps;
			if (m < c->nmaps && c->maps[m].lo <= t->sp && c->maps[m].r) {
				scan_words(c, c->maps[m].lo, c->maps[m].hi, 1);
				c->maps[m].claimed = 1;
				if (t->tid == getpid())
					mark_dtv(c, find_tcb(c, c->maps[m].lo, c->maps[m].hi), 0);
			} else {
				*lost_stacks = 1;
			}
		}
	}
}

/* A mapping is the stack of a thread (dead and cached by glibc, or one whose
 * stack pointer we do not know) when a small PROT_NONE guard lies right
 * below it: that is how glibc and most runtimes lay out thread stacks. */
static int stack_shaped(const struct scan *c, size_t m)
{
	return m > 0 && c->maps[m - 1].guard && c->maps[m - 1].hi == c->maps[m].lo &&
	       c->maps[m - 1].hi - c->maps[m - 1].lo <= 16 * PAGE;
}

/* glibc's non-main arena heaps: aligned to 64 MiB, starting with heap_info
 * whose first word points to the arena (in this heap or another one). */
static int glibc_heap(const struct scan *c, size_t m)
{
	uintptr_t lo = c->maps[m].lo;
	if (lo & (GLIBC_HEAP_MAX - 1))
		return 0;
	uintptr_t ar = *(const uintptr_t *)lo;
	size_t k = map_at(c, ar);
	return k < c->nmaps && c->maps[k].lo <= ar && (c->maps[k].lo & (GLIBC_HEAP_MAX - 1)) == 0 &&
	       c->maps[k].anon;
}

/* The rule for anonymous mappings (see scan_anon in the README): a piece of
 * an anonymous read-write mapping, outside the agent's own mappings, the
 * loaded modules and the thread stacks, is the program's memory and a root
 * unless it is allocator memory: a block starting in it shares a page with
 * another block (an arena: glibc's heaps, jemalloc's slabs), or it is glibc's
 * [heap] or an arena heap. Blocks alone in their pages (mmap'd chunks, which
 * the kernel may merge with a neighbouring mapping) are cut out of it. */
static void scan_piece(struct scan *c, uintptr_t lo, uintptr_t hi)
{
	size_t i = lower_bound(c, lo), j = i;
	uintptr_t last_page_end = 0;
	while (j < c->n && addr_of(c, j) < hi) {
		uintptr_t a = addr_of(c, j);
		if ((a & ~(uintptr_t)(PAGE - 1)) < last_page_end)
			return; /* two blocks in one page: an arena */
		uint64_t sz = la_snap_size(c->s, &c->b[j]);
		last_page_end = (a + sz + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
		j++;
	}
	/* also a block that starts below lo and reaches into it */
	if (i > 0) {
		uintptr_t a = addr_of(c, i - 1);
		uintptr_t e = (a + la_snap_size(c->s, &c->b[i - 1]) + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
		if (e > lo)
			lo = e;
	}
	for (size_t k = i; k < j && lo < hi; k++) {
		uintptr_t a = addr_of(c, k) & ~(uintptr_t)(PAGE - 1);
		uintptr_t e = (addr_of(c, k) + la_snap_size(c->s, &c->b[k]) + PAGE - 1) &
			      ~(uintptr_t)(PAGE - 1);
		if (a > lo)
			scan_words(c, lo, a < hi ? a : hi, 1);
		if (e > lo)
			lo = e;
	}
	if (lo < hi)
		scan_words(c, lo, hi, 1);
}

#define COPY_BYTES (64u << 10)

/* A mapping of a file may reach past the file's end, where a read raises
 * SIGBUS (memcheck catches the fault): its words are copied with
 * process_vm_readv, which fails there instead, and the copy is scanned. The
 * pages past the end are all at the mapping's tail, so the first failure
 * ends the piece. */
static void scan_copied(struct scan *c, uintptr_t lo, uintptr_t hi)
{
	if (!c->copy && !(c->copy = la_map(COPY_BYTES)))
		return;
	pid_t pid = getpid();
	while (lo < hi) {
		size_t want = hi - lo < COPY_BYTES ? hi - lo : COPY_BYTES;
		struct iovec to = { c->copy, want }, from = { (void *)lo, want };
		ssize_t got = process_vm_readv(pid, &to, 1, &from, 1, 0);
		if (got <= 0)
			return;
		scan_words(c, (uintptr_t)c->copy, (uintptr_t)c->copy + (size_t)got, 1);
		lo += (size_t)got;
	}
}

/* The program's own mappings: every readable and writable one, anonymous or
 * of a file (as memcheck), but devices and what the rule above leaves out. */
static void scan_anon(struct scan *c, int lost_stacks)
{
	size_t e = 0;
	for (size_t m = 0; m < c->nmaps; m++) {
		const struct map *mp = &c->maps[m];
		if (!mp->r || !mp->w || mp->special || mp->device || mp->claimed)
			continue;
		void (*piece)(struct scan *, uintptr_t, uintptr_t) = mp->anon ? scan_piece : scan_copied;
		if (mp->anon && stack_shaped(c, m)) {
			if (lost_stacks) /* maybe the stack of a thread that did not park */
				scan_words(c, mp->lo, mp->hi, 1);
			/* glibc keeps a joined thread's stack, TCB and DTV for reuse:
			 * its DTV is glibc's, never the program's leak (unless the
			 * stack may be an unparked thread's, this thread has ended) */
			mark_dtv(c, find_tcb(c, mp->lo, mp->hi), !lost_stacks);
			continue;
		}
		if (mp->anon && glibc_heap(c, m))
			continue;
		/* cut out the exclusions (sorted by start) */
		uintptr_t lo = mp->lo;
		while (e < c->nexcl && c->excl[e].hi <= lo)
			e++;
		for (size_t k = e; k < c->nexcl && c->excl[k].lo < mp->hi && lo < mp->hi; k++) {
			if (c->excl[k].hi <= lo)
				continue;
			if (c->excl[k].lo > lo)
				piece(c, lo, c->excl[k].lo);
			if (c->excl[k].hi > lo)
				lo = c->excl[k].hi;
		}
		if (lo < mp->hi)
			piece(c, lo, mp->hi);
	}
}

/* --- classification -------------------------------------------------------- */

void la_scan_indirect(const struct la_snap *s, size_t i, uint64_t *ibytes, uint64_t *iblocks)
{
	*ibytes = *iblocks = 0;
	if (!s->scanned || !(la_snap_flags(&s->blocks[i]) & LA_S_LEADER))
		return;
	const struct la_scan_side *sd = side_of(s, i);
	if (sd) {
		*ibytes = sd->ibytes;
		*iblocks = sd->iblocks;
	}
}

/* memcheck's grouping of lost blocks, in address order: each block still
 * unreached starts a group; every block reached from it (start or interior
 * pointer) becomes indirect and is counted on it. A group that reaches an
 * earlier group's first block absorbs that group. In a lost cycle the first
 * block by address stays definite, the others are indirect. */
static int group_lost(struct scan *c)
{
	c->clique_mode = 1;
	for (size_t i = 0; i < c->n; i++) {
		if (state_of(c, i) != LA_S_UNREACHED)
			continue;
		c->leader = i;
		c->cl_bytes = c->cl_blocks = 0;
		push(c, i);
		flood(c);
		if (!c->cl_blocks)
			continue;
		struct la_snap *s = c->s;
		if ((s->nside + 1) * sizeof(*s->side) > s->side_bytes) {
			/* grows by doubling: only groups with indirect blocks need
			 * an entry, usually few */
			size_t nb = s->side_bytes ? s->side_bytes * 2 : 65536;
			struct la_scan_side *ns = la_map(nb);
			if (!ns)
				return -1;
			if (s->side)
				memcpy(ns, s->side, s->nside * sizeof(*s->side));
			la_unmap(s->side, s->side_bytes);
			s->side = ns;
			s->side_bytes = nb;
		}
		struct la_scan_side *sd = &s->side[s->nside++];
		sd->index = i;
		sd->ibytes = c->cl_bytes;
		sd->iblocks = c->cl_blocks;
		set_state(c, i, LA_S_UNREACHED | LA_S_LEADER);
	}
	c->clique_mode = 0;
	return 0;
}

static uint64_t ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put(char **o, const char *s)
{
	*o += la_strlcpy(*o, s, 64);
}

static void put_ms(char **o, const char *what, uint64_t ns)
{
	put(o, what);
	*o += la_fmt_dec(*o, ns / 1000000);
	put(o, ".");
	*o += la_fmt_dec(*o, ns / 100000 % 10);
	put(o, " ms");
}

/* One line on stderr (option scan_stats): where the pause went and how much
 * memory the scan used, for the benchmark. */
static void stats(const struct scan *c, const struct la_world *w, uint64_t t0)
{
	char line[512], *o = line;
	size_t mem = c->s->cap_bytes + c->l1_bytes + c->pool_bytes + c->max_top * 4 +
		     c->maps_bytes + c->maps_text_bytes + c->excl_bytes + c->s->side_bytes;
	put(&o, "scan: ");
	o += la_fmt_dec(o, c->n);
	put(&o, " blocks; snapshot");
	put_ms(&o, " ", c->s->take_ns);
	put_ms(&o, ", stop ", w->stop_ns);
	put_ms(&o, ", mark+classify ", ns_now() - t0);
	put(&o, "; memory ");
	o += la_fmt_dec(o, mem >> 20);
	put(&o, " MiB (snapshot ");
	o += la_fmt_dec(o, c->s->cap_bytes >> 20);
	put(&o, " MiB, directory ");
	o += la_fmt_dec(o, (c->l1_bytes + c->pool_bytes) >> 10);
	put(&o, " KiB, mark stack ");
	o += la_fmt_dec(o, c->max_top * 4 >> 10);
	put(&o, " KiB)");
	*o = 0;
	la_warn(line, NULL);
}

void la_scan_run(struct la_scan_prep *prep, struct la_snap *s, struct la_world *w)
{
	struct scan c;
	uint64_t t0 = ns_now();
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.b = s->blocks;
	c.n = s->n;
	s->threads_seen = w->seen;
	s->threads_parked = w->parked;
	s->threads_unparked = w->unparked;
	if (!prep)
		goto out;
	if (c.n) {
		uintptr_t end = 0;
		for (size_t i = 0; i < c.n; i++) { /* the block reaching highest */
			uintptr_t e = addr_of(&c, i) + la_snap_size(s, &s->blocks[i]);
			end = e > end ? e : end;
		}
		c.min = addr_of(&c, 0);
		c.span = end - c.min + 1; /* +1: a zero-sized last block */
	}
	c.cap = 2 * c.n + 16;
	c.stack_bytes = c.cap * sizeof(uint32_t);
	c.stack = la_map(c.stack_bytes);
	if (!c.stack || build_directory(&c) < 0 || read_maps(&c) < 0)
		goto fail;

	/* 1. ignored blocks: not reported, but what they point to is reachable */
	for (size_t i = 0; i < c.n; i++)
		if (la_snap_flags(&c.b[i]) & LA_F_IGNORED) {
			set_state(&c, i, LA_S_REACHABLE);
			push(&c, i);
		}
	/* 2. globals: writable segments of every module but the agent */
	for (size_t i = 0; i < prep->nseg; i++)
		scan_root_mode(&c, prep->seg[i].lo, prep->seg[i].hi, prep->seg[i].mode);
	/* 3. threads: registers, stacks, TLS */
	int lost_stacks;
	scan_threads(&c, prep, w, &lost_stacks);
	/* 4. registered regions */
	for (size_t i = 0; i < prep->nroots; i++)
		scan_root(&c, prep->roots[i].lo, prep->roots[i].hi);
	/* 5. the program's own mappings, anonymous or of files */
	if (la_opt.scan_anon) {
		c.excl_cap = MAX_SEGS + MAX_MODS + 8192;
		c.excl_bytes = c.excl_cap * sizeof(struct range);
		c.excl = la_map(c.excl_bytes);
		if (!c.excl)
			goto fail;
		la_roots_foreach_agent_map(excl_agent_cb, &c);
		for (size_t i = 0; i < prep->nspan; i++)
			add_excl(&c, prep->span[i].lo, prep->span[i].hi);
		sort_ranges(c.excl, c.nexcl);
		scan_anon(&c, lost_stacks);
	}
	/* 6. flood fill from everything pushed so far */
	flood(&c);
	/* 7. group what is left: definitely and indirectly lost */
	if (group_lost(&c) < 0)
		goto fail;
	s->scanned = 1;
	goto out;
fail:
	la_warn("out of memory for the reachability scan: blocks stay unclassified", NULL);
	for (size_t i = 0; i < c.n; i++)
		set_state(&c, i, 0);
	s->nside = 0;
out:
	if (la_opt.scan_stats)
		stats(&c, w, t0);
	la_unmap(c.stack, c.stack_bytes);
	la_unmap(c.l1, c.l1_bytes);
	la_unmap(c.pool, c.pool_bytes);
	la_unmap(c.maps, c.maps_bytes);
	la_unmap(c.maps_text, c.maps_text_bytes);
	la_unmap(c.excl, c.excl_bytes);
	la_unmap(c.copy, c.copy ? COPY_BYTES : 0);
	if (prep)
		la_unmap(prep, prep->bytes);
}
