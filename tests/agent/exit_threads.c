/* Claim: exit() called while other threads still run and allocate still
 * writes a complete report, after the program's destructors ran. */
// EXPECT: record R m 777 1 before_exit
// EXPECT: stdout destructor ran
// EXPECT: world 4 4 0
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;
static void *volatile in_dtor;

__attribute__((noinline)) void before_exit(void)
{
	sink = malloc(777);
}

static void *churn(void *arg)
{
	for (;;)
		free(malloc(128));
	return arg;
}

__attribute__((noinline)) void freed_in_dtor(void)
{
	in_dtor = malloc(555);
}

__attribute__((destructor)) static void dtor(void)
{
	free(in_dtor); /* freed by a destructor: must not be reported */
	printf("destructor ran\n");
	fflush(stdout);
}

int main(void)
{
	pthread_t t[3];
	freed_in_dtor();
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	usleep(20000);
	before_exit();
	exit(0);
}
