/* Claim: a thread made with a 16 KiB stack has as much of it under the agent
 * as without: the capture keeps its per-thread state out of static TLS,
 * which glibc carves out of every thread's stack (9 KiB of it used to go). */
// EXPECT: record R m 24 1 small_thread
// EXPECT: stdout small stack ok
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile kept;

/* about 1 KiB of stack per level */
__attribute__((noinline)) static void use_stack(int kib)
{
	volatile char b[1000];
	memset((char *)b, kib, sizeof(b));
	if (kib > 1)
		use_stack(kib - 1);
	__asm__ volatile("" ::"r"(b) : "memory");
}

__attribute__((noinline)) static void *small_thread(void *arg)
{
	(void)arg;
	kept = malloc(24);
	use_stack(8); /* fits without the agent with room to spare */
	return NULL;
}

int main(void)
{
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 16384);
	if (pthread_create(&t, &at, small_thread, NULL) != 0)
		return 2;
	pthread_join(t, NULL);
	puts("small stack ok");
	return 0;
}
