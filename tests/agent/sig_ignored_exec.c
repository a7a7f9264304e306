/* Claim: a snapshot signal the program ignores stays ignored in the programs
 * it starts, as without the agent, although the agent keeps its own handler
 * on it. exec resets a handled signal to the default action, and an ignored
 * one stays ignored: children without the agent (follow_children=0 here)
 * were killed by a SIGUSR1 their parent had told them to ignore. Three ways
 * in: posix_spawn, fork then execv, and system. */
// OPTIONS: follow_children=0
// EXPECT: stdout spawned child alive
// EXPECT: stdout spawn: exit 0
// EXPECT: stdout exec'd child alive
// EXPECT: stdout fork+exec: exit 0
// EXPECT: stdout system's child alive
// EXPECT: stdout system: exit 0
// EXPECT: stdout USR1 still ignored here
// EXPECT: record D m 12 1 main
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
void *volatile dropped;

static void status(const char *how, int st)
{
	if (WIFEXITED(st))
		printf("%s: exit %d\n", how, WEXITSTATUS(st));
	else
		printf("%s: killed by signal %d\n", how, WTERMSIG(st));
	fflush(stdout);
}

int main(void)
{
	char *spawned[] = { "sh", "-c", "kill -USR1 $$; echo spawned child alive", NULL };
	char *execd[] = { "sh", "-c", "kill -USR1 $$; echo \"exec'd child alive\"", NULL };
	pid_t pid;
	int st;

	signal(SIGUSR1, SIG_IGN);
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, spawned, environ) != 0 || waitpid(pid, &st, 0) < 0)
		return 2;
	status("spawn", st);
	if ((pid = fork()) == 0) {
		execv("/bin/sh", execd);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 3;
	status("fork+exec", st);
	status("system", system("kill -USR1 $$; echo \"system's child alive\""));
	struct sigaction o;
	sigaction(SIGUSR1, NULL, &o);
	printf("USR1 %s here\n", o.sa_handler == SIG_IGN ? "still ignored" : "not ignored");
	dropped = malloc(12);
	dropped = NULL;
	return 0;
}
