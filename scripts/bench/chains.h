/* chains.h: the big live heap of bigheap.c and pause.c: n blocks of 32..568
 * bytes (about 300 on average, a fixed pseudo-random sequence) chained from
 * a global table, so a reachability scan must follow every pointer. */
#include <stdint.h>
#include <stdlib.h>

#define CHAINS 65536

struct block { struct block *next; unsigned size; unsigned pad; };

struct block *table[CHAINS]; /* the roots: a global the scan must read */

/* Returns the bytes asked for. */
static uint64_t build_chains(long n)
{
	unsigned x = 2024;
	uint64_t bytes = 0;
	for (long i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		unsigned size = 32 + ((x >> 8) % 537);
		struct block *b = malloc(size);
		b->size = size;
		b->next = table[i % CHAINS];
		table[i % CHAINS] = b;
		bytes += size;
	}
	return bytes;
}
