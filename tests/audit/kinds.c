/* Claim: one record of each of memcheck's kinds, each from its own function,
 * so every backend can be matched record by record: definite (3 x 100 bytes
 * from make_leak), indirect (a 64-byte block reachable only through a lost
 * 16-byte one), possible (a 333-byte block held only by an interior pointer),
 * reachable (a 222-byte block held by a global), plus one block leaked from a
 * thread and one from a shared library. With an argument, one more
 * definitely lost block (extra_leak), for a run that must differ. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

void *audit_lib_leak(size_t n); /* audit_lib.c */

void *reachable_ptr;   /* a root: keeps its block still reachable */
char *interior_ptr;    /* a root pointing into the middle of its block */

__attribute__((noinline)) static void *make_leak(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noinline)) static void lose_three(void)
{
	for (int i = 0; i < 3; i++)
		KEEP(make_leak(100));
}

__attribute__((noinline)) static void *make_child(void)
{
	void *p = malloc(64);
	KEEP(p);
	return p;
}

__attribute__((noinline)) static void lose_parent(void)
{
	void **parent = malloc(16);
	parent[0] = make_child();
	parent[1] = NULL;
	KEEP(parent);
}

__attribute__((noinline)) static void keep_interior(void)
{
	char *p = malloc(333);
	interior_ptr = p + 100;
}

__attribute__((noinline)) static void keep_reachable(void)
{
	reachable_ptr = malloc(222);
}

__attribute__((noinline)) static void *thread_leak(void *arg)
{
	KEEP(arg);
	void *p = malloc(48);
	KEEP(p);
	return NULL;
}

__attribute__((noinline)) static void extra_leak(void)
{
	KEEP(malloc(77));
}

__attribute__((noinline)) static void clear_stack(void)
{
	/* overwrite dead stack slots that may still hold the lost pointers,
	 * or a conservative scan would call them reachable */
	volatile char pad[4096];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = 0;
}

int main(int argc, char **argv)
{
	pthread_t t;
	lose_three();
	lose_parent();
	keep_interior();
	keep_reachable();
	KEEP(audit_lib_leak(40));
	if (pthread_create(&t, NULL, thread_leak, NULL) == 0)
		pthread_join(t, NULL);
	if (argc > 1)
		extra_leak();
	KEEP(argv);
	clear_stack();
	return 0;
}
