/* A shared library that leaks one block, so every backend must attribute a
 * record to a function in a library loaded at a different address than the
 * program. */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) void *audit_lib_leak(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return NULL;
}
