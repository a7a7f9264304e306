/* A library that keeps a block in its own global; loaded by dlopen_global.c. */
#include <stdlib.h>

void *lib_global;

__attribute__((noinline)) void lib_keep(void)
{
	lib_global = malloc(4321);
}
