/* deep.c: benchmark workload, allocations made about 20 frames deep, through
 * a chain of distinct noinline functions (no tail calls), so each capture
 * unwinds a long stack. Four leaf sites give four distinct stacks.
 * Usage: deep ITERATIONS
 */
#include <stdlib.h>

#define SLOTS 1024
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) static void *leaf(size_t n, unsigned k)
{
	void *p;
	switch (k & 3) {
	case 0: p = malloc(n); break;
	case 1: p = calloc(1, n); break;
	case 2: p = malloc(n + 8); break;
	default: p = realloc(NULL, n); break;
	}
	KEEP(p);
	return p;
}

/* Level I calls level I+1; the KEEP after the call stops tail-call merging. */
#define LEVEL(i, next)                                                        \
	__attribute__((noinline)) static void *f##i(size_t n, unsigned k)     \
	{                                                                     \
		void *p = next(n, k);                                         \
		KEEP(p);                                                      \
		return p;                                                     \
	}
LEVEL(19, leaf) LEVEL(18, f19) LEVEL(17, f18) LEVEL(16, f17) LEVEL(15, f16)
LEVEL(14, f15) LEVEL(13, f14) LEVEL(12, f13) LEVEL(11, f12) LEVEL(10, f11)
LEVEL(9, f10) LEVEL(8, f9) LEVEL(7, f8) LEVEL(6, f7) LEVEL(5, f6)
LEVEL(4, f5) LEVEL(3, f4) LEVEL(2, f3) LEVEL(1, f2)

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 1000000;
	static void *slot[SLOTS];
	unsigned x = 42;

	for (long i = 0; i < iters; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) % SLOTS;
		free(slot[k]);
		slot[k] = f1(24 + ((x >> 20) & 127), x >> 28);
	}
	for (int k = 0; k < SLOTS; k++)
		free(slot[k]);
	return 0;
}
