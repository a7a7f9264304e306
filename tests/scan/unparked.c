/* Claim: a thread that blocks every signal cannot park. The scan reads its
 * blocked mask and does not wait for it (the stop timeout here is ten
 * minutes, so a scan that waited would time the test out); it scans the
 * thread's whole stack conservatively, and the report says so (2 threads
 * seen, 1 parked, 1 not). Its block is still reachable. */
// OPTIONS: stop_timeout_ms=600000
// EXPECT: record R m 555 1 held_by_deaf
// EXPECT: world 2 1 1
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static int pipefd[2];
static volatile int ready;

__attribute__((noinline)) void *held_by_deaf(void)
{
	return malloc(555);
}

static void *deaf(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	void *volatile keep = held_by_deaf();
	char c;
	ready = 1;
	while (read(pipefd[0], &c, 1) < 0) /* blocks forever: nobody writes */
		;
	(void)keep;
	return arg;
}

int main(void)
{
	pthread_t t;
	if (pipe(pipefd) < 0)
		return 2;
	pthread_create(&t, NULL, deaf, NULL);
	while (!ready)
		usleep(1000);
	usleep(10000);
	return 0;
}
