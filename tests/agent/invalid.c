/* Claim: freeing an address the agent never saw allocated is a finding (with
 * the freeing stack) and is still passed to the allocator; here the block
 * comes from glibc's __libc_malloc, which the agent does not interpose, so
 * the free is legal for glibc and unknown to the agent. */
// EXPECT: finding invalid - m release_unknown 2
#include <stdlib.h>

extern void *__libc_malloc(size_t);

__attribute__((noinline)) void release_unknown(void)
{
	free(__libc_malloc(32));
	free(__libc_malloc(64));
}

int main(void)
{
	release_unknown();
	return 0;
}
