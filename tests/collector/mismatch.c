/* Claim: a block from malloc freed with operator delete is reported as a
 * mismatched free, with the stack of the free and of the allocation.
 * (An invalid free cannot be shown with a real program: the agent passes it
 * on to glibc, which aborts; the reader tests cover that finding.) */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

void _ZdlPv(void *); /* operator delete(void*), callable from C */

__attribute__((noinline)) static void wrong_free(void)
{
	void *p = malloc(24);
	KEEP(p);
	_ZdlPv(p);
}

int main(void)
{
	wrong_free();
	return 0;
}
