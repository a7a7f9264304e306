/* parked.h: the scenario the scan tests under strace and gdb both run: a
 * block kept in a global, one dropped, two threads asleep in pause(), so the
 * stop signal must reach and park them through the tracer. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *global;
static volatile int ready;

__attribute__((noinline)) void kept(void)
{
	global = malloc(123);
}

__attribute__((noinline)) void dropped(void)
{
	void *volatile p = malloc(456);
	(void)p;
}

__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

static void *sleeper(void *arg)
{
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
	return arg;
}

int main(void)
{
	pthread_t t;
	kept();
	dropped();
	scrub();
	pthread_create(&t, NULL, sleeper, NULL);
	pthread_create(&t, NULL, sleeper, NULL);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < 2)
		usleep(1000);
	return 0;
}
