/* Claim: a program that handles signals in one sigwait thread, every signal
 * blocked in every thread, never sees the agent's stop signal. A snapshot
 * (leakagent_snapshot) stops the world: no thread can park, so none is sent
 * the signal, and the sigwait thread's next signal is the program's own
 * SIGTERM. The sigwait thread is scanned unparked, in both reports, so what
 * it holds stays reachable. */
// EXPECT: reports 2
// EXPECT: each-report 1
// EXPECT: record R m 444 1 held_by_waiter
// EXPECT: world 2 1 1
// EXPECT: stdout got signal 15
// EXPECT: exit 0
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "leakagent.h"

static volatile int ready, first_sig, got_term;

__attribute__((noinline)) void *held_by_waiter(void)
{
	return malloc(444);
}

static void *waiter(void *arg)
{
	sigset_t all;
	void *volatile keep = held_by_waiter();
	sigfillset(&all);
	ready = 1;
	for (;;) {
		int sig = 0;
		if (sigwait(&all, &sig) != 0)
			continue;
		printf("got signal %d\n", sig);
		fflush(stdout);
		if (!first_sig)
			first_sig = sig;
		if (sig == SIGTERM)
			got_term = 1;
	}
	(void)keep;
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
	usleep(20000); /* the waiter sits in sigwait */
	if (leakagent_snapshot(0) != 0)
		return 3;
	kill(getpid(), SIGTERM);
	while (!got_term)
		usleep(1000);
	return first_sig == SIGTERM ? 0 : 4; /* the exit report runs with the waiter in sigwait */
}
