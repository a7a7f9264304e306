/* exec and posix_spawn: run with an argument, the program starts copies of
 * itself: one through posix_spawn with an explicit environment that lacks
 * LD_PRELOAD, one through fork+execve with the inherited environment, and
 * each child leaks one block in child_leak. Checked by process.py: three
 * reports, each process's own. */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *volatile sink;

__attribute__((noinline)) void child_leak(void) { sink = malloc(4321); }
__attribute__((noinline)) void parent_leak(void) { sink = malloc(1234); }

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		child_leak();
		return 0;
	}
	parent_leak();
	char *args[] = { argv[0], "child", NULL };
	/* only PATH: no LD_PRELOAD, no LEAKAGENT_OPTIONS */
	char *bare_env[] = { "PATH=/usr/bin:/bin", NULL };
	pid_t pid;
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, bare_env) != 0)
		return 2;
	waitpid(pid, NULL, 0);
	pid = fork();
	if (pid == 0) {
		execve("/proc/self/exe", args, environ);
		_exit(3);
	}
	waitpid(pid, NULL, 0);
	return 0;
}
