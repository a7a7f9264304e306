/* golden.c: the C program named by c.raw (see regen.sh). One function per
 * record kind, so the rewritten report can give each stack its kind; an
 * always-inlined helper gives an inline chain; one mismatched free. */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

void _ZdlPv(void *);
void *reachable_ptr, *interior_ptr;

static inline __attribute__((always_inline)) void *inlined_alloc(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) void leak_definite(void) { KEEP(malloc(100)); }
__attribute__((noinline)) void leak_inline(void) { KEEP(inlined_alloc(24)); }

__attribute__((noinline)) void leak_holder(void)
{
	void **holder = malloc(8);
	*holder = malloc(64);
	KEEP(holder);
}

__attribute__((noinline)) void leak_possible(void) { interior_ptr = (char *)malloc(48) + 8; }
__attribute__((noinline)) void leak_reachable(void) { reachable_ptr = malloc(32); }
__attribute__((noinline)) void leak_unclassified(void) { KEEP(malloc(16)); }

__attribute__((noinline)) void wrong_free(void)
{
	void *p = malloc(40);
	KEEP(p);
	_ZdlPv(p);
}

int main(void)
{
	leak_definite();
	leak_inline();
	leak_holder();
	leak_possible();
	leak_reachable();
	leak_unclassified();
	wrong_free();
	return 0;
}
