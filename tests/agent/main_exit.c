/* Claim: a program whose main thread calls pthread_exit ends when its last
 * thread ends, with status 0 and its exit report, as it does without the
 * agent (glibc exits once its count of threads reaches zero, and the agent's
 * snapshot thread must not count). The report is written by that last
 * thread while main is a zombie, whose /proc/self/maps is empty: the
 * program's globals must still be roots. */
// EXPECT: record R m 10 1 worker
// EXPECT: record D m 7 1 main
// EXPECT: stdout worker done
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *kept;
void *volatile dropped;

static void *worker(void *arg)
{
	(void)arg;
	usleep(50000); /* main is gone by now */
	kept = malloc(10);
	puts("worker done");
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 2;
	dropped = malloc(7);
	dropped = NULL;
	pthread_exit(NULL);
}
