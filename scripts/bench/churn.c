/* churn.c: benchmark workload, small-block malloc/free churn. Each of T
 * threads keeps 4096 live slots and replaces one per iteration with a block
 * of 16..271 bytes, reached through four noinline frames.
 * Usage: churn ITERATIONS [THREADS]   (iterations are split over threads)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 4096
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static long per_thread;

__attribute__((noinline)) static void *d4(size_t n) { void *p = malloc(n); KEEP(p); return p; }
__attribute__((noinline)) static void *d3(size_t n) { void *p = d4(n); KEEP(p); return p; }
__attribute__((noinline)) static void *d2(size_t n) { void *p = d3(n); KEEP(p); return p; }
__attribute__((noinline)) static void *d1(size_t n) { void *p = d2(n); KEEP(p); return p; }

static void *worker(void *arg)
{
	static __thread void *slot[SLOTS];
	unsigned x = 12345u + (unsigned)(uintptr_t)arg * 7919u;

	for (long i = 0; i < per_thread; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) % SLOTS;
		free(slot[k]);
		slot[k] = d1(16 + ((x >> 20) & 255));
		*(char *)slot[k] = 1;
	}
	for (int k = 0; k < SLOTS; k++)
		free(slot[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 1000000;
	int nthreads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t t[64];

	if (nthreads < 1 || nthreads > 64)
		return 2;
	per_thread = iters / nthreads;
	if (nthreads == 1) {
		worker(NULL);
		return 0;
	}
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
