/* A small daemon for the snapshot tests (process.py, scenario timerd): three
 * worker threads allocate on a 1 ms timer, one phase at a time, while the
 * main thread serves commands on stdin, one per line:
 *   phase N   every worker runs phase N, then "done N" is printed
 *   ping      "pong": the daemon still serves
 *   api D     leakagent_snapshot(D) from code, then "api <result>"
 *   quit      exit(0)
 * Per worker (so three times this in every report):
 *   phase 1   cache_put 10 x 100 bytes (kept in a global: still reachable),
 *             leak_a 2 x 64 bytes (dropped: definitely lost)
 *   phase 2   cache_put 10 more, frees 5 of phase 1's, leak_b 1 x 48 bytes
 *   phase 3   cache_put 5 more, frees 10 older ones, leak_c 1 x 32 bytes
 * Every phase also allocates and frees scratch blocks on each tick, so the
 * daemon keeps allocating; none of them is outstanding when a phase is done.
 * Snapshots are asked for by the test between phases, with kill(1).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leakagent.h"

#define WORKERS 3
#define CACHE 64

static void *cache[WORKERS][CACHE];
static int phase_wanted, phase_done[WORKERS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void *volatile sink;

__attribute__((noinline)) void cache_put(int w, int i) { cache[w][i] = malloc(100); }
__attribute__((noinline)) void leak_a(void) { sink = malloc(64); }
__attribute__((noinline)) void leak_b(void) { sink = malloc(48); }
__attribute__((noinline)) void leak_c(void) { sink = malloc(32); }

/* Overwrite the dead frames below us, so no stale copy of a dropped pointer
 * stays on the stack where the reachability scan would find it. */
__attribute__((noinline)) static void scrub(void)
{
	volatile char pad[8192];
	memset((char *)pad, 0, sizeof(pad));
}

static void tick(void)
{
	struct timespec ms = { 0, 1000000 };
	void *scratch = malloc(200);
	nanosleep(&ms, NULL);
	free(scratch);
}

static void run_phase(int w, int phase)
{
	int from = phase == 1 ? 0 : phase == 2 ? 10 : 20, n = phase == 3 ? 5 : 10;
	for (int i = 0; i < n; i++) {
		cache_put(w, from + i);
		tick();
	}
	/* phase 2 frees entries 0-4, phase 3 entries 5-14 */
	for (int i = phase == 2 ? 0 : 5; phase > 1 && i < (phase == 2 ? 5 : 15); i++) {
		free(cache[w][i]);
		cache[w][i] = NULL;
		tick();
	}
	if (phase == 1) {
		leak_a();
		leak_a();
	} else {
		(phase == 2 ? leak_b : leak_c)();
	}
	sink = NULL;
}

static void *worker(void *arg)
{
	int w = (int)(long)arg, done = 0;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (phase_wanted == done)
			pthread_cond_wait(&cv, &mu);
		int phase = phase_wanted;
		pthread_mutex_unlock(&mu);
		run_phase(w, phase);
		scrub();
		pthread_mutex_lock(&mu);
		phase_done[w] = done = phase;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(void)
{
	char line[64];
	pthread_t t[WORKERS];
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long w = 0; w < WORKERS; w++)
		if (pthread_create(&t[w], NULL, worker, (void *)w) != 0)
			return 1;
	while (fgets(line, sizeof(line), stdin)) {
		int n;
		if (sscanf(line, "phase %d", &n) == 1) {
			pthread_mutex_lock(&mu);
			phase_wanted = n;
			pthread_cond_broadcast(&cv);
			for (int w = 0; w < WORKERS; w++)
				while (phase_done[w] != n)
					pthread_cond_wait(&cv, &mu);
			pthread_mutex_unlock(&mu);
			printf("done %d\n", n);
		} else if (strcmp(line, "ping\n") == 0) {
			printf("pong\n");
		} else if (sscanf(line, "api %d", &n) == 1) {
			printf("api %d\n", leakagent_snapshot(n));
		} else if (strcmp(line, "quit\n") == 0) {
			exit(0);
		}
	}
	return 2;
}
