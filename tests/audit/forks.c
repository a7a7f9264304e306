/* forks.c: a process with children of both kinds. It leaks itself, forks a
 * child that leaks and exits without exec, and starts itself again by exec
 * in another child ("exec" argument), which leaks too. No backend but the
 * agent reports the forked child; memcheck reports the exec'd one only with
 * --trace-children. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) void parent_leak(void) { sink = malloc(111); sink = NULL; }
__attribute__((noinline)) void fork_leak(void) { sink = malloc(222); sink = NULL; }
__attribute__((noinline)) void exec_leak(void) { sink = malloc(333); sink = NULL; }

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exec")) {
		exec_leak();
		return 0;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 2;
	self[n] = 0;
	parent_leak();
	pid_t a = fork();
	if (a == 0) {
		fork_leak();
		exit(0);
	}
	pid_t b = fork();
	if (b == 0) {
		execl(self, argv[0], "exec", (char *)NULL);
		_exit(127);
	}
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	return 0;
}
