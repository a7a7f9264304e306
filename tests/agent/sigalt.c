/* Claim: a signal handler on a small alternate stack can allocate under the
 * agent, and its block's stack goes on through the kernel's signal frame to
 * the function the signal interrupted and its callers. The capture steps
 * over the signal frame itself; handing it to libunwind took about 5 KiB
 * more of the alternate stack than the program itself needs, which
 * overflowed the stack this program sets up (the kernel's minimum plus
 * 6 KiB; the handler needs about 4 KiB of it natively). */
// EXPECT: record R m 40 1 on_signal
// EXPECT: stack on_signal spin main
// EXPECT: stdout handled
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

void *volatile kept;
static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	kept = malloc(40);
	done = 1;
}

/* interrupted somewhere inside its loop, never at a call */
__attribute__((noinline)) static void spin(void)
{
	while (!done)
		__asm__ volatile("" ::: "memory");
}

int main(void)
{
	long min = sysconf(_SC_MINSIGSTKSZ);
	stack_t ss = { 0 };
	ss.ss_size = (size_t)(min > 2048 ? min : 2048) + 6144;
	ss.ss_sp = malloc(ss.ss_size);
	if (!ss.ss_sp || sigaltstack(&ss, NULL) != 0)
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 2000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	spin();
	puts("handled");
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	free(ss.ss_sp);
	return 0;
}
