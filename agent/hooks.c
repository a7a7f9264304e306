/* hooks.c: every interposed allocation function, each in one shape:
 * bootstrap check (dlsym may allocate before the real allocator is known),
 * recursion guard (the agent's and libunwind's own allocations pass through),
 * the real call, then the record. Edge cases behave exactly as the next
 * allocator's (glibc, jemalloc, tcmalloc), which does all the real work.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/* --- the next allocator ---------------------------------------------------- */

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
	int (*dlclose)(void *);
} real;

/* Serves allocations made while dlsym resolves the real allocator (glibc
 * before 2.34 calls calloc from dlerror); never freed, never reused. */
static char boot_pool[65536] __attribute__((aligned(64)));
static size_t boot_used;

static void *boot_alloc(size_t n)
{
	size_t at = __atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED);
	if (at + n > sizeof(boot_pool)) {
		errno = ENOMEM;
		return NULL;
	}
	return boot_pool + at; /* zeroed: static storage, never reused */
}

static inline int boot_owns(const void *p)
{
	return (const char *)p >= boot_pool && (const char *)p < boot_pool + sizeof(boot_pool);
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		la_warn("cannot find the next ", name, " (is libc loaded?)", NULL);
		_exit(127);
	}
	return f;
}

/* Resolves every real function; called once, by la_init, with the guard
 * held, so allocations dlsym makes on this thread come from boot_pool. */
void la_hooks_resolve(void)
{
	real.calloc = next("calloc");
	real.free = next("free");
	real.realloc = next("realloc");
	real.memalign = next("memalign");
	real.posix_memalign = next("posix_memalign");
	real.aligned_alloc = next("aligned_alloc");
	real.valloc = next("valloc");
	real.pvalloc = next("pvalloc");
	real.malloc_usable_size = next("malloc_usable_size");
	real.dlclose = next("dlclose");
	real.malloc = next("malloc");
}

/* Returns 1 when the caller must use boot_pool: the real allocator is being
 * resolved on this very thread. Otherwise the agent is started (or was). */
static int __attribute__((noinline)) start_slow(void)
{
	if (la_guard)
		return real.malloc == NULL;
	la_init();
	return 0;
}

static inline int starting(void)
{
	if (LA_LIKELY(__atomic_load_n(&la_ready, __ATOMIC_ACQUIRE)))
		return 0;
	return start_slow();
}

/* --- recording ------------------------------------------------------------- */

#define LAST_MAX 64     /* deepest stack the per-thread last-stack cache holds */

/* The stack this thread interned last: allocations in a loop repeat it, and
 * comparing is cheaper than hashing and looking up. */
static LA_TLS uintptr_t last_pcs[LAST_MAX];
static LA_TLS int last_n;
static LA_TLS uint32_t last_id;

/* The capture's tag names the frames it handed out when they are a walk it
 * remembers: a loop allocating from a few places reads its stack id there. */
static uint32_t intern(const uintptr_t *pcs, int n)
{
	uint32_t *tag = la_capture_tag;
	if (tag && *tag) {
#ifdef LA_CAPTURE_VERIFY
		if (la_depot_put(pcs, n) != *tag)
			la_warn("capture differs: a remembered walk's stack id is stale", NULL);
#endif
		return *tag;
	}
	uint32_t id = 0;
	if (n == last_n && last_id) {
		int i = 0;
		while (i < n && pcs[i] == last_pcs[i])
			i++;
		if (i == n)
			id = last_id;
	}
	if (!id) {
		id = la_depot_put(pcs, n);
		if (n <= LAST_MAX) {
			memcpy(last_pcs, pcs, sizeof(*pcs) * (size_t)n);
			last_n = n;
			last_id = id;
		}
	}
	if (tag)
		*tag = id;
	return id;
}

/* Everything after the unwind: the capture's tag, else a compare with the
 * last stack or one lock-free depot lookup; then one shard lock. The caller
 * holds the guard. */
static void __attribute__((noinline)) record(void *p, size_t size, int fam, const uintptr_t *pcs,
					     int n)
{
	uint32_t stack = intern(pcs, n);
	uint16_t flags = (uint16_t)(fam | LA_F_NEW | (la_generation & 0xff) << LA_F_GEN_SHIFT |
				    (la_disabled ? LA_F_IGNORED : 0));
	la_table_insert((uintptr_t)p, size, stack, flags);
}

/* A depth the inline capture cannot hold: unwound one frame further down. */
static void __attribute__((noinline)) record_deep(void *p, size_t size, int fam)
{
	uintptr_t pcs[la_opt.depth];
	record(p, size, fam, pcs, la_capture_deep(pcs, (int)la_opt.depth));
}

/* Inlined into every hook, so the unwind starts in the hook's own frame and
 * walks no frame the bare shim does not (see la_capture). */
static inline __attribute__((always_inline)) void *track(void *p, size_t size, int fam)
{
	if (LA_LIKELY(p != NULL) && !la_guard) {
		int *err = &errno, saved = *err;
		la_guard++;
		la_table_prefetch((uintptr_t)p);
		if (LA_LIKELY(la_opt.depth <= LA_CAPTURE_FAST)) {
			uintptr_t buf[LA_CAPTURE_FAST + LA_CAPTURE_SLACK];
			const uintptr_t *pcs;
			int n = la_capture(buf, (int)la_opt.depth, &pcs);
			record(p, size, fam, pcs, n);
		} else {
			record_deep(p, size, fam);
		}
		la_unguard();
		*err = saved;
	}
	return p;
}

static uint32_t current_stack(void)
{
	uintptr_t pcs[la_opt.depth];
	return la_depot_put(pcs, la_capture_deep(pcs, (int)la_opt.depth));
}


/* A free the table does not match: an unknown block or the wrong family.
 * Rare, so it may unwind and intern (which can touch errno). */
static void __attribute__((noinline)) free_finding(void *p, int fam, int found,
						   const struct la_block *b)
{
	int saved = errno;
	if (!found)
		la_findings_add('v', '-', la_fam_letter[fam], 0, current_stack(), (uintptr_t)p, 0);
	else
		la_findings_add('m', la_fam_letter[b->flags & LA_F_FAMILY], la_fam_letter[fam], b->stack,
				current_stack(), (uintptr_t)p, b->size);
	errno = saved;
}

/* Forget p before the real free, so the address cannot be handed out again
 * and inserted by another thread in between. Cost: one shard lock and the
 * slot's run; nothing here touches errno (la_lock_slow keeps it). */
static void __attribute__((noinline)) untrack(void *p, int fam)
{
	struct la_block b;
	la_guard++;
	int found = la_table_remove((uintptr_t)p, &b);
	if (LA_UNLIKELY(!found || (b.flags & LA_F_FAMILY) != fam))
		free_finding(p, fam, found, &b);
	la_unguard();
}

static inline void release(void *p, int fam)
{
	if (!p || boot_owns(p))
		return;
	if (!la_guard && la_ready)
		untrack(p, fam);
	int saved = errno; /* free preserves errno (POSIX 2024) */
	real.free(p);
	errno = saved;
}

/* --- the C allocation family ----------------------------------------------- */

LA_EXPORT void *malloc(size_t n)
{
	if (LA_UNLIKELY(starting()))
		return boot_alloc(n);
	return track(real.malloc(n), n, LA_MALLOC);
}

LA_EXPORT void free(void *p)
{
	if (LA_UNLIKELY(!real.free)) /* only boot_pool blocks exist yet */
		return;
	release(p, LA_MALLOC);
}

LA_EXPORT void *calloc(size_t n, size_t m)
{
	if (LA_UNLIKELY(starting())) {
		size_t total;
		if (__builtin_mul_overflow(n, m, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(total);
	}
	return track(real.calloc(n, m), n * m, LA_MALLOC); /* n*m cannot wrap on success */
}

LA_EXPORT void *realloc(void *p, size_t n)
{
	struct la_block old;
	int boot = starting();

	if (!p)
		return malloc(n);
	if (boot_owns(p)) { /* move out of the bootstrap pool (size unknown) */
		size_t left = (size_t)(boot_pool + sizeof(boot_pool) - (char *)p);
		void *q = malloc(n);
		if (q)
			memcpy(q, p, left < n ? left : n);
		return q;
	}
	if (boot || la_guard)
		return real.realloc(p, n);

	/* Forget p first: once the real realloc frees it, another thread may get
	 * the same address. */
	int saved = errno;
	la_guard++;
	int had = la_table_remove((uintptr_t)p, &old);
	la_unguard();
	errno = saved;
	void *q = real.realloc(p, n);
	if (!q && n != 0) { /* failed: p is untouched and still the program's */
		saved = errno;
		if (had)
			la_table_insert(old.addr, old.size, old.stack, old.flags);
		errno = saved;
		return NULL;
	}
	saved = errno;
	la_guard++;
	if (!had)
		la_findings_add('v', '-', LA_FAM_MALLOC, 0, current_stack(), (uintptr_t)p, 0);
	else if ((old.flags & LA_F_FAMILY) != LA_MALLOC)
		la_findings_add('m', la_fam_letter[old.flags & LA_F_FAMILY], LA_FAM_MALLOC, old.stack,
				current_stack(), (uintptr_t)p, old.size);
	la_unguard();
	errno = saved;
	return track(q, n, LA_MALLOC); /* q NULL: realloc(p, 0) freed p */
}

LA_EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;
	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

LA_EXPORT void *memalign(size_t align, size_t n)
{
	if (LA_UNLIKELY(starting()))
		return align <= 16 ? boot_alloc(n) : NULL;
	return track(real.memalign(align, n), n, LA_MALLOC);
}

LA_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (LA_UNLIKELY(starting()))
		return ENOMEM;
	int rc = real.posix_memalign(out, align, n);
	if (rc == 0)
		track(*out, n, LA_MALLOC);
	return rc;
}

LA_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (LA_UNLIKELY(starting()))
		return NULL;
	return track(real.aligned_alloc(align, n), n, LA_MALLOC);
}

LA_EXPORT void *valloc(size_t n)
{
	if (LA_UNLIKELY(starting()))
		return NULL;
	return track(real.valloc(n), n, LA_MALLOC);
}

LA_EXPORT void *pvalloc(size_t n)
{
	if (LA_UNLIKELY(starting()))
		return NULL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t rounded = n ? (n + page - 1) & ~(page - 1) : page; /* what pvalloc gives */
	return track(real.pvalloc(n), rounded, LA_MALLOC);
}

LA_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (boot_owns(p))
		return 0;
	if (LA_UNLIKELY(starting()))
		return 0;
	return real.malloc_usable_size(p);
}

/* libunwind caches unwind info by address: an unloaded library's range may be
 * reused by the next one. */
LA_EXPORT int dlclose(void *h)
{
	starting();
	int rc = real.dlclose(h);
	la_capture_flush();
	return rc;
}

/* --- C++ operators new and delete ------------------------------------------
 * Blocks come from the next malloc; only when it fails is the next operator
 * new called (with the guard held), for its new_handler loop, bad_alloc
 * throw or nothrow NULL. Every delete frees with the next free, which is
 * right for any block of this family whatever size or alignment is passed. */

/* align 0: plain malloc. An operator new must never return NULL for 0. */
static void *raw_alloc(size_t n, size_t align)
{
	void *p;
	if (!align)
		return real.malloc(n ? n : 1);
	if (align < sizeof(void *))
		align = sizeof(void *);
	return real.posix_memalign(&p, align, n ? n : 1) == 0 ? p : NULL;
}

/* The next operator new, for its failure semantics only. */
static void *next_new(const char *sym, size_t n, size_t align, int nothrow)
{
	static const char nothrow_obj; /* std::nothrow_t is empty */
	void *f = dlsym(RTLD_NEXT, sym), *p = NULL;
	la_guard++;
	if (f && align && nothrow)
		p = ((void *(*)(size_t, size_t, const void *))f)(n, align, &nothrow_obj);
	else if (f && align)
		p = ((void *(*)(size_t, size_t))f)(n, align);
	else if (f && nothrow)
		p = ((void *(*)(size_t, const void *))f)(n, &nothrow_obj);
	else if (f)
		p = ((void *(*)(size_t))f)(n);
	la_unguard();
	return p;
}

static inline __attribute__((always_inline)) void *new_fam(size_t n, size_t align, int fam, int nothrow, const char *next_sym)
{
	if (LA_UNLIKELY(starting()))
		return boot_alloc(n);
	void *p = raw_alloc(n, align);
	if (LA_UNLIKELY(!p))
		p = next_new(next_sym, n, align, nothrow);
	return track(p, n, fam);
}

#define U __attribute__((unused))

LA_EXPORT void *_Znwm(size_t n) { return new_fam(n, 0, LA_NEW, 0, "_Znwm"); }
LA_EXPORT void *_Znam(size_t n) { return new_fam(n, 0, LA_NEW_ARRAY, 0, "_Znam"); }
LA_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a)
{
	return new_fam(n, a, LA_NEW, 0, "_ZnwmSt11align_val_t");
}
LA_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a)
{
	return new_fam(n, a, LA_NEW_ARRAY, 0, "_ZnamSt11align_val_t");
}
LA_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, U const void *nt)
{
	return new_fam(n, 0, LA_NEW, 1, "_ZnwmRKSt9nothrow_t");
}
LA_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, U const void *nt)
{
	return new_fam(n, 0, LA_NEW_ARRAY, 1, "_ZnamRKSt9nothrow_t");
}
LA_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, U const void *nt)
{
	return new_fam(n, a, LA_NEW, 1, "_ZnwmSt11align_val_tRKSt9nothrow_t");
}
LA_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, U const void *nt)
{
	return new_fam(n, a, LA_NEW_ARRAY, 1, "_ZnamSt11align_val_tRKSt9nothrow_t");
}

#define DELETE(name, fam, ...)                                  \
	LA_EXPORT void name(void *p, ##__VA_ARGS__)             \
	{                                                       \
		if (LA_UNLIKELY(!real.free))                    \
			return;                                 \
		release(p, fam);                                \
	}

DELETE(_ZdlPv, LA_NEW)
DELETE(_ZdaPv, LA_NEW_ARRAY)
DELETE(_ZdlPvm, LA_NEW, U size_t n)
DELETE(_ZdaPvm, LA_NEW_ARRAY, U size_t n)
DELETE(_ZdlPvSt11align_val_t, LA_NEW, U size_t a)
DELETE(_ZdaPvSt11align_val_t, LA_NEW_ARRAY, U size_t a)
DELETE(_ZdlPvmSt11align_val_t, LA_NEW, U size_t n, U size_t a)
DELETE(_ZdaPvmSt11align_val_t, LA_NEW_ARRAY, U size_t n, U size_t a)
DELETE(_ZdlPvRKSt9nothrow_t, LA_NEW, U const void *nt)
DELETE(_ZdaPvRKSt9nothrow_t, LA_NEW_ARRAY, U const void *nt)
DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, LA_NEW, U size_t a, U const void *nt)
DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, LA_NEW_ARRAY, U size_t a, U const void *nt)
