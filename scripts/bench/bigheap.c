/* bigheap.c: benchmark workload, a big live heap kept to exit: N blocks of
 * 32..568 bytes (about 300 on average) linked in chains from a global table,
 * so a reachability scan must follow every pointer. The last thing main does
 * is print "bench-end <CLOCK_MONOTONIC ns> <CPU us so far>" on stderr, so the
 * runner can time what happens between the end of main and process exit
 * (exit-time reports), in wall and in CPU time.
 * Usage: bigheap BLOCKS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "chains.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	struct timespec ts;
	struct rusage ru;

	build_chains(n);
	getrusage(RUSAGE_SELF, &ru);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "bench-end %lld %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		(long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return 0;
}
