/* Claim: the stop-the-world parks every live thread and scans what only it
 * holds: a block kept in the main thread's TLS, one in a live thread's TLS,
 * one only on a live thread's stack and one only in a parked thread's
 * register are still reachable at exit (the threads still run then). */
// EXPECT: record R m 101 1 tls_main
// EXPECT: record R m 202 1 tls_thread
// EXPECT: record R m 303 1 on_stack
// EXPECT: record R m 404 1 in_register
// EXPECT: world 4 4 0
// OPTIONS: stop_timeout_ms=10000
// (the counts are exact: a loaded machine must not make a thread late)
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

__thread void *tls_slot; /* not static: the stores must stay */
static volatile int ready;

__attribute__((noinline)) void tls_main(void)
{
	tls_slot = malloc(101);
}

__attribute__((noinline)) void tls_thread(void)
{
	tls_slot = malloc(202);
}

__attribute__((noinline)) void *on_stack(void)
{
	return malloc(303);
}

__attribute__((noinline)) void *in_register(void)
{
	return malloc(404);
}

/* Overwrite the dead frames below the caller: no stale copy of a pointer
 * stays where the scan (which starts 128 bytes below sp) could see it. */
__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

static void *tls_worker(void *arg)
{
	tls_thread();
	scrub();
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("pause" ::: "memory");
	return arg;
}

static void *stack_worker(void *arg)
{
	void *volatile keep = on_stack(); /* a stack slot */
	scrub();
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("pause" ::"m"(keep) : "memory");
	return arg;
}

static void *register_worker(void *arg)
{
	/* masked (not a pointer) while scrub runs, so no copy can be spilled
	 * to the stack; unmasked afterwards, it lives in a register only */
	unsigned long x = (unsigned long)in_register() ^ 0x5a5a5a5a5a5a5a5aul;
	__asm__ volatile("" : "+r"(x));
	scrub();
	__asm__ volatile("" : "+r"(x));
	void *p = (void *)(x ^ 0x5a5a5a5a5a5a5a5aul);
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("pause" : "+r"(p)::"memory");
	return arg;
}

int main(void)
{
	pthread_t t;
	tls_main();
	pthread_create(&t, NULL, tls_worker, NULL);
	pthread_create(&t, NULL, stack_worker, NULL);
	pthread_create(&t, NULL, register_worker, NULL);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < 3)
		;
	return 0; /* exit while they spin: they must be parked and scanned */
}
