/* A library with thread-local storage, for tests/scan/dead_tls.c: loaded
 * by dlopen, so its TLS is dynamic (allocated by __tls_get_addr). */
#include <stdlib.h>

__thread void *dead_tls_slot;

__attribute__((noinline)) void dead_tls_keep(size_t n)
{
	dead_tls_slot = malloc(n);
}
