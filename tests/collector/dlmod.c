/* dlmod.c: a library that leaks and is dlclose()d before the report (see
 * leak_dlclose.c). */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) void *dlmod_leak(void)
{
	void *p = malloc(333);
	KEEP(p);
	return p;
}
