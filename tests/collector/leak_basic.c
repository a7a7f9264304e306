/* Claim: three 100-byte blocks from make_leak (called by lose_it) and an
 * 8-byte block holding the only pointer to a 64-byte block are reported with
 * their allocating functions; a freed block is not; the exit status (3) is
 * the program's. */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) static void *make_leak(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noinline)) static void lose_it(void)
{
	for (int i = 0; i < 3; i++)
		KEEP(make_leak(100));
}

__attribute__((noinline)) static void indirect(void)
{
	void **holder = malloc(8);
	*holder = malloc(64);
	KEEP(holder);
}

__attribute__((noinline)) static void freed(void)
{
	void *p = malloc(500);
	KEEP(p);
	free(p);
}

int main(void)
{
	lose_it();
	indirect();
	freed();
	return 3;
}
