/* Claim: blocks still outstanding at exit are reported with exact bytes,
 * blocks and allocating function; freed blocks are not; realloc moves the
 * record to the realloc's stack and size. Pointers kept only in registers
 * and dead frames are gone by the exit report: memcheck calls all of them
 * definitely lost, and so do we. */
// EXPECT: record D m 300 3 leak_small
// EXPECT: record D m 5000 1 grow
// EXPECT: record D m 64 1 zeroed
#include <stdlib.h>
#include <string.h>

#define KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

__attribute__((noinline)) void *leak_small(void)
{
	void *p = malloc(100);
	KEEP(p);
	return p;
}

__attribute__((noinline)) void *start(void)
{
	return malloc(50);
}

__attribute__((noinline)) void *grow(void *p)
{
	return realloc(p, 5000);
}

__attribute__((noinline)) void *zeroed(void)
{
	return calloc(8, 8);
}

int main(void)
{
	for (int i = 0; i < 3; i++)
		leak_small();
	char *s = strdup("freed again");
	free(s);
	void *p = grow(start());
	KEEP(p);
	KEEP(zeroed());
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i));
	return 0;
}
