/* fds_nocfi_lib.c: frames without unwind information for fds_nocfi.c (built
 * with -fno-asynchronous-unwind-tables -fno-unwind-tables, frame pointers
 * kept, so only a frame-pointer step can cross them). */
#include <stdlib.h>

__attribute__((noinline)) void *nocfi_alloc(size_t n)
{
	void *p = malloc(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void *nocfi_outer(size_t n)
{
	void *p = nocfi_alloc(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}
