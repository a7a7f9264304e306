/* Fork: the parent leaks before and after fork, the child leaks its own
 * block. Checked by process.py: two reports; the child's (its own pid, ppid
 * the parent) holds the parent's pre-fork block marked inherited and its own
 * block; the parent's holds its two blocks. Threads allocate through the fork
 * so a lock held across it would deadlock the child. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink[4];
static volatile int stop;

__attribute__((noinline)) void parent_before(void) { sink[0] = malloc(111); }
__attribute__((noinline)) void parent_after(void) { sink[1] = malloc(222); }
__attribute__((noinline)) void child_own(void) { sink[2] = malloc(333); }

static void *churn(void *arg)
{
	while (!stop)
		free(malloc(64));
	return arg;
}

int main(void)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	parent_before();
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			if (round == 19) {
				child_own();
				exit(0);
			}
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	parent_after();
	return 0;
}
