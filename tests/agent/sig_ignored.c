/* Claim: a program started with its snapshot signals ignored (a parent's
 * trap '' USR1) sees them ignored through sigaction and signal, as without
 * the agent; the agent still takes its snapshots on them. Before, sigaction
 * showed SIG_DFL for a snapshot signal the program had not set itself. */
#define _GNU_SOURCE /* sighandler_t */
// WRAP: sh -c "trap '' USR1 USR2; exec \"$@\"" sh
// EXPECT: stdout USR1 ignored
// EXPECT: stdout USR2 ignored, signal() returned it
// EXPECT: record D m 12 1 main
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile dropped;

int main(void)
{
	struct sigaction o;
	sigaction(SIGUSR1, NULL, &o);
	printf("USR1 %s\n", o.sa_handler == SIG_IGN ? "ignored" : o.sa_handler == SIG_DFL ? "default" : "handled");
	sighandler_t h = signal(SIGUSR2, SIG_IGN);
	printf("USR2 %s, signal() returned it\n", h == SIG_IGN ? "ignored" : h == SIG_DFL ? "default" : "handled");
	dropped = malloc(12);
	dropped = NULL;
	return 0;
}
