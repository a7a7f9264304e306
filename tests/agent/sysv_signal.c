/* Claim: a handler set with System V semantics — signal() in a program
 * built with a strict standard, which glibc turns into __sysv_signal — is
 * seen like any other: sigaction shows it, and after its one delivery it
 * shows the default action again (SA_RESETHAND). Before, such a call went
 * past the agent's wrappers, and sigaction showed SIG_DFL all along. */
// EXPECT: stdout TERM handler seen
// EXPECT: stdout handler ran once, then the default action
// EXPECT: record D m 24 1 main
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

extern sighandler_t __sysv_signal(int, sighandler_t);

static volatile sig_atomic_t ran;
void *volatile dropped;

static void on_term(int sig)
{
	(void)sig;
	ran++;
}

int main(void)
{
	struct sigaction now;
	if (__sysv_signal(SIGTERM, on_term) == SIG_ERR)
		return 2;
	sigaction(SIGTERM, NULL, &now);
	printf("TERM handler %s\n", now.sa_handler == on_term ? "seen" : "not seen");
	raise(SIGTERM);
	sigaction(SIGTERM, NULL, &now);
	printf("handler ran %s\n", ran == 1 && now.sa_handler == SIG_DFL ? "once, then the default action"
									 : "otherwise");
	dropped = malloc(24);
	dropped = NULL;
	return 0;
}
