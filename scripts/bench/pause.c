/* pause.c: benchmark workload for the snapshot pause. Builds N live blocks
 * (chains.h, as bigheap: all reachable), then a worker thread allocates,
 * frees and reads the clock in a loop while the main thread asks the agent for a snapshot with SIGUSR1 and waits for
 * the report file to appear in DIR. The longest gap the worker saw between
 * two iterations is the pause the program felt: threads parked for the scan,
 * and allocations waiting while the table is frozen.
 * Prints "pause <live bytes> <longest gap ns> <signal to report ns>".
 * Usage: pause BLOCKS DIR   (under the agent, output=DIR/...)
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chains.h"

static volatile int stop;
static int64_t longest;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *worker(void *arg)
{
	int64_t last = now_ns();
	while (!stop) {
		void *volatile p = malloc(64);
		free(p);
		int64_t t = now_ns();
		if (t - last > longest)
			longest = t - last;
		last = t;
	}
	return arg;
}

static int report_written(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d)))
		found = e->d_name[0] != '.' && strstr(e->d_name, ".raw") != NULL;
	if (d)
		closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	const char *dir = argc > 2 ? argv[2] : ".";
	uint64_t bytes = build_chains(n);
	pthread_t t;

	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	usleep(200000);
	int64_t t0 = now_ns();
	kill(getpid(), SIGUSR1);
	while (!report_written(dir) && now_ns() - t0 < 300 * 1000000000LL)
		usleep(1000);
	int64_t t1 = now_ns();
	usleep(100000); /* the worker runs on a while after the snapshot */
	stop = 1;
	pthread_join(t, NULL);
	if (!report_written(dir)) {
		fprintf(stderr, "pause: no report in %s after 300 s\n", dir);
		return 1;
	}
	printf("pause %llu %lld %lld\n", (unsigned long long)bytes, (long long)longest,
	       (long long)(t1 - t0));
	return 0;
}
