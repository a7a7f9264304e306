/* A library that leaks; loaded and unloaded by dlopen.c. */
#include <stdlib.h>

__attribute__((noinline)) void *lib_leak(void)
{
	return malloc(4242);
}
