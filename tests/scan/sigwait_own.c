/* Claim: a program that waits with sigtimedwait, sigwaitinfo or sigwait on a
 * set holding the stop signal (40) and others gets its own signal 40, also
 * around snapshots: the agent takes only its own stop signals out of the
 * waits. Before, the set lost signal 40 whenever another signal was in it,
 * and such a wait never returned the program's signal. */
// EXPECT: reports 4
// EXPECT: stdout sigtimedwait 40 value 7
// EXPECT: stdout sigwaitinfo 40 value 8
// EXPECT: stdout sigwait 40
// EXPECT: stdout nothing more: -1
// EXPECT: exit 0
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "leakagent.h"

int main(void)
{
	sigset_t set;
	siginfo_t si;
	struct timespec ts = { 5, 0 }, none = { 0, 0 };
	union sigval v;
	int sig = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, 40);
	sigaddset(&set, 41);
	sigprocmask(SIG_BLOCK, &set, NULL);

	leakagent_snapshot(0);
	v.sival_int = 7;
	sigqueue(getpid(), 40, v);
	int r = sigtimedwait(&set, &si, &ts);
	printf("sigtimedwait %d value %d\n", r, r > 0 ? si.si_value.sival_int : -1);

	leakagent_snapshot(1);
	v.sival_int = 8;
	sigqueue(getpid(), 40, v);
	r = sigwaitinfo(&set, &si);
	printf("sigwaitinfo %d value %d\n", r, r > 0 ? si.si_value.sival_int : -1);

	leakagent_snapshot(0);
	raise(40);
	sigwait(&set, &sig);
	printf("sigwait %d\n", sig);
	printf("nothing more: %d\n", sigtimedwait(&set, &si, &none));
	return 0;
}
