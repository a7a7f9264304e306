/* Claim: compare runs the program under every backend with the same
 * environment names and with /dev/null as input. This program loses one
 * 16-byte block per environment variable (as a program that copies its
 * environment allocates per variable) and one 32-byte block when its input
 * has data: memcheck and the agent agree on both only when the runs see the
 * same environment and the same input. */
#include <stdlib.h>
#include <unistd.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

extern char **environ;

__attribute__((noinline)) static void lose_per_variable(void)
{
	for (char **e = environ; *e; e++)
		KEEP(malloc(16));
}

__attribute__((noinline)) static void lose_if_input(void)
{
	char c;
	if (read(0, &c, 1) > 0)
		KEEP(malloc(32));
}

int main(void)
{
	lose_per_variable();
	lose_if_input();
	return 0;
}
