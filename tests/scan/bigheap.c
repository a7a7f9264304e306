/* bigheap: a measurement program, not a test: holds N live blocks (default
 * 5M, about 1.5 GB) linked in chains hanging from a global table, then
 * exits, so the agent's exit-time scan covers the whole heap. Block sizes
 * vary from 64 to 560 bytes (300 on average); payload words are small
 * integers, which the scan's filter rejects, as most real data.
 *   LEAKAGENT_OPTIONS=scan_stats=1 LD_PRELOAD=.../libleakagent.so bigheap [N] [CHAIN]
 * Prints the time it took to build the heap. A third argument K takes K
 * more reports through the API before exiting (repeated scans, for perf). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "leakagent.h"

struct node {
	struct node *next;
	long payload[];
};

struct node **table; /* not static: the compiler may not keep it in a register */

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	long chain = argc > 2 ? atol(argv[2]) : 100;
	long heads = (n + chain - 1) / chain;
	struct timespec a, b;
	unsigned long x = 88172645463325252ul, bytes = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	table = calloc((size_t)heads, sizeof(*table));
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t size = 64 + (x % 63) * 8; /* 64..560 */
		struct node *p = malloc(size);
		p->next = table[i % heads];
		for (size_t k = 0; k < (size - sizeof(*p)) / sizeof(long); k++)
			p->payload[k] = (long)(i + k);
		table[i % heads] = p;
		bytes += size;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld blocks, %lu MiB in %ld chains, built in %.2f s\n", n, bytes >> 20, heads,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	fflush(stdout);
	for (long k = argc > 3 ? atol(argv[3]) : 0; k > 0; k--)
		leakagent_snapshot(0);
	return 0;
}
