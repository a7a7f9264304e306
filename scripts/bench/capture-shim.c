/* capture-shim.c: the floor for any libunwind-based agent. An LD_PRELOAD
 * library that passes every allocation straight to the next allocator and,
 * on each allocation, captures a 32-frame stack with unw_backtrace into a
 * local buffer that is then dropped: no table, no depot, no report.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <libunwind.h>

#define DEPTH 32

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* dlsym may calloc before the real functions are known: serve it from here,
 * never free into the real allocator. */
static char boot[16384] __attribute__((aligned(16)));
static size_t boot_used;
static int resolving;
static __thread int in_hook __attribute__((tls_model("initial-exec")));

static int boot_owns(void *p) { return (char *)p >= boot && (char *)p < boot + sizeof boot; }

static void *boot_alloc(size_t n)
{
	size_t at = __atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED);
	if (at + n > sizeof boot) {
		errno = ENOMEM;
		return NULL;
	}
	return boot + at;
}

static void resolve(void)
{
	resolving = 1;
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real_valloc = dlsym(RTLD_NEXT, "valloc");
	real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	resolving = 0;
}

/* The whole cost this shim measures: one unwind per allocation. The guard
 * keeps an allocation made inside libunwind from unwinding again. */
static inline void capture(void)
{
	void *pcs[DEPTH];
	if (in_hook)
		return;
	in_hook = 1;
	int n = unw_backtrace(pcs, DEPTH);
	__asm__ volatile("" : : "r"(pcs), "r"(n) : "memory");
	in_hook = 0;
}

#define ENSURE(fn, boot_expr)             \
	do {                              \
		if (!real_##fn) {         \
			if (resolving)    \
				return boot_expr; \
			resolve();        \
		}                         \
	} while (0)

void *malloc(size_t n)
{
	ENSURE(malloc, boot_alloc(n));
	capture();
	return real_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	ENSURE(calloc, boot_alloc(a * b));
	capture();
	return real_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	ENSURE(realloc, NULL);
	if (boot_owns(p)) { /* rare: grow a bootstrap block into the real heap */
		void *q = real_malloc(n);
		if (q)
			__builtin_memcpy(q, p, n < 256 ? n : 256);
		return q;
	}
	capture();
	return real_realloc(p, n);
}

void free(void *p)
{
	if (!p || boot_owns(p))
		return;
	if (!real_free)
		resolve();
	real_free(p);
}

void *memalign(size_t a, size_t n) { ENSURE(memalign, NULL); capture(); return real_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { ENSURE(aligned_alloc, NULL); capture(); return real_aligned_alloc(a, n); }
void *valloc(size_t n) { ENSURE(valloc, NULL); capture(); return real_valloc(n); }
void *pvalloc(size_t n) { ENSURE(pvalloc, NULL); capture(); return real_pvalloc(n); }

int posix_memalign(void **out, size_t a, size_t n)
{
	ENSURE(posix_memalign, ENOMEM);
	capture();
	return real_posix_memalign(out, a, n);
}
