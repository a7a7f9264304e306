/* Claim: a program that uses the stop signal (40) itself keeps it, also
 * after a report put the agent's handler in: a handler it installs then gets
 * its own sigqueue'd signal (whatever the value: an index-sized one too) with
 * the mask it asked for, sigaction shows it its own action, and when it then
 * resets every disposition to SIG_DFL, as daemons do, the stop of the exit
 * report does not kill it (before, the exit report's stop signal ended the
 * process with signal 40 and its buffered output was lost). */
// EXPECT: reports 2
// EXPECT: each-report 1
// EXPECT: world 2 2 0
// OPTIONS: stop_timeout_ms=10000
// (the counts are exact: a loaded machine must not make a thread late)
// EXPECT: record R m 222 1 held_by_sleeper
// EXPECT: stdout own handler: 2 calls, value 5, SIGUSR2 blocked 1
// EXPECT: stdout view: own handler 1, then SIG_DFL 1
// EXPECT: exit 3
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "leakagent.h"

static volatile int calls, value, usr2_blocked, ready;

__attribute__((noinline)) void *held_by_sleeper(void)
{
	return malloc(222);
}

static void *sleeper(void *arg)
{
	void *volatile keep = held_by_sleeper();
	ready = 1;
	for (;;)
		pause();
	__asm__ volatile("" : : "r"(keep) : "memory");
	return arg;
}

static void on40(int sig, siginfo_t *si, void *uc)
{
	sigset_t now;
	(void)sig;
	(void)uc;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	calls++;
	if (si->si_code == SI_QUEUE)
		value = si->si_value.sival_int;
	usr2_blocked = sigismember(&now, SIGUSR2);
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		return 2;
	while (!ready)
		usleep(1000);
	if (leakagent_snapshot(0) != 0) /* the agent's handler goes in */
		return 4;

	struct sigaction a, seen;
	a.sa_sigaction = on40;
	a.sa_flags = SA_SIGINFO;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGUSR2);
	sigaction(40, &a, NULL);
	sigaction(40, NULL, &seen);
	int own = (seen.sa_flags & SA_SIGINFO) && seen.sa_sigaction == on40;
	union sigval v = { .sival_int = 5 };
	sigqueue(getpid(), 40, v); /* the main thread has it unblocked: delivered now */
	raise(40);
	printf("own handler: %d calls, value %d, SIGUSR2 blocked %d\n", calls, value, usr2_blocked);

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigaction(40, NULL, &seen);
	printf("view: own handler %d, then SIG_DFL %d\n", own,
	       !(seen.sa_flags & SA_SIGINFO) && seen.sa_handler == SIG_DFL);
	return 3; /* buffered output: lost if the process dies in the exit report */
}
