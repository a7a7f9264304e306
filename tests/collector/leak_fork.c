/* Claim: a child made by fork writes its own report, and leakagent reads the
 * parent's and the child's, each with its own leaks (parent_leak 111 bytes,
 * child_leak 222 bytes); early_leak (333 bytes, before the fork) is in both,
 * marked inherited in the child's. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) static void parent_leak(void) { KEEP(malloc(111)); }
__attribute__((noinline)) static void child_leak(void) { KEEP(malloc(222)); }
__attribute__((noinline)) static void early_leak(void) { KEEP(malloc(333)); }

int main(void)
{
	early_leak();
	pid_t pid = fork();
	if (pid == 0) {
		child_leak();
		return 0;
	}
	waitpid(pid, NULL, 0);
	parent_leak();
	return 0;
}
