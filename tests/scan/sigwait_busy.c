/* Claim: a signal thread that blocks every signal and takes them with
 * sigtimedwait in a busy loop (short timeouts, so it is mostly on its CPU,
 * where /proc shows neither the wait nor its real mask) never receives the
 * agent's stop signal through its wait, at any of 60 snapshots; it parks
 * inside the wait when the signal reaches it there and is scanned unparked
 * otherwise, so what it holds stays reachable. Before, it got the signal at
 * about one snapshot in two. */
// OPTIONS: stop_timeout_ms=20
// EXPECT: reports 61
// EXPECT: each-report 1
// EXPECT: record R m 333 1 held_by_busy_waiter
// EXPECT: world 2 * *
// EXPECT: stdout agent signals seen: 0
// EXPECT: exit 0
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "leakagent.h"

static volatile int ready, stop, foreign;

__attribute__((noinline)) void *held_by_busy_waiter(void)
{
	return malloc(333);
}

static void *waiter(void *arg)
{
	sigset_t all;
	struct timespec ts = { 0, 1000 };
	void *volatile keep = held_by_busy_waiter();
	sigfillset(&all);
	ready = 1;
	while (!stop) {
		int sig = sigtimedwait(&all, NULL, &ts);
		if (sig > 0)
			foreign++;
	}
	__asm__ volatile("" : : "r"(keep) : "memory");
	return arg;
}

int main(void)
{
	sigset_t all;
	pthread_t t;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* inherited by the waiter */
	if (pthread_create(&t, NULL, waiter, NULL) != 0)
		return 2;
	while (!ready)
		usleep(1000);
	for (int i = 0; i < 60; i++)
		if (leakagent_snapshot(0) != 0)
			return 3;
	printf("agent signals seen: %d\n", foreign);
	fflush(stdout);
	return foreign != 0; /* the exit report runs with the waiter still busy */
}
