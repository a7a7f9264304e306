/* Claim: actions set through System V's calls are seen like any other.
 * signal() in a program built with a strict standard (glibc's
 * __sysv_signal): sigaction shows the handler, and after its one delivery
 * the default action again (SA_RESETHAND). sigset with a handler, SIG_HOLD
 * and SIG_DFL, and sigignore: sigaction shows what they set, and sigset
 * answers as glibc's does. Before, these calls went past the agent's
 * wrappers, and sigaction showed SIG_DFL all along. */
// EXPECT: stdout TERM handler seen
// EXPECT: stdout handler ran once, then the default action
// EXPECT: stdout sigset: handler seen, held, default back
// EXPECT: stdout INT ignored, seen and survived
// EXPECT: record D m 24 1 main
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* sigset, sigignore */
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

	sighandler_t was = sigset(SIGHUP, on_term);
	sigaction(SIGHUP, NULL, &now);
	int ok = was == SIG_DFL && now.sa_handler == on_term;
	sigset_t mask;
	ok = ok && sigset(SIGHUP, SIG_HOLD) == on_term && sigprocmask(SIG_BLOCK, NULL, &mask) == 0 &&
	     sigismember(&mask, SIGHUP);
	ok = ok && sigset(SIGHUP, SIG_DFL) == SIG_HOLD && sigaction(SIGHUP, NULL, &now) == 0 &&
	     now.sa_handler == SIG_DFL && sigprocmask(SIG_BLOCK, NULL, &mask) == 0 && !sigismember(&mask, SIGHUP);
	printf("sigset: %s\n", ok ? "handler seen, held, default back" : "not as glibc's");

	sigignore(SIGINT);
	sigaction(SIGINT, NULL, &now);
	int seen = now.sa_handler == SIG_IGN;
	raise(SIGINT);
	printf("INT ignored, %s and survived\n", seen ? "seen" : "not seen");
	dropped = malloc(24);
	dropped = NULL;
	return 0;
}
