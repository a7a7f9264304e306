/* Claim: the scan works under gdb, which stops on real-time signals by
 * default: "handle SIG40 nostop noprint pass" lets the stop signal through
 * (option stop_signal names another). Blocks are classified as usual. */
// WRAP: gdb -q -nx -batch -ex "handle SIG40 nostop noprint pass" -ex run --args @PROG@
// EXPECT: record R m 123 1 kept
// EXPECT: record D m 456 1 dropped
// EXPECT: world 3 3 0
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
