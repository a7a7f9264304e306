/* Claim: a block pointed to from .data, .bss or a static local is still
 * reachable; a block whose only pointer is XOR-hidden in a global is
 * definitely lost (memcheck agrees on all four). */
// EXPECT: record R m 11 1 in_data
// EXPECT: record R m 22 1 in_bss
// EXPECT: record R m 33 1 in_static_local
// EXPECT: record D m 44 1 hidden
#include <stdint.h>
#include <stdlib.h>

static int dummy = 1;
void *data_ptr = &dummy; /* .data: initialised, then overwritten */
void *bss_ptr;           /* .bss */
uintptr_t hidden_ptr;    /* holds p ^ mask: not a pointer any more */

__attribute__((noinline)) void in_data(void)
{
	data_ptr = malloc(11);
}

__attribute__((noinline)) void in_bss(void)
{
	bss_ptr = malloc(22);
}

__attribute__((noinline)) void *in_static_local(void)
{
	static void *keep;
	if (!keep)
		keep = malloc(33);
	return keep;
}

__attribute__((noinline)) void hidden(void)
{
	hidden_ptr = (uintptr_t)malloc(44) ^ 0x5555aaaa5555aaaaull;
}

int main(void)
{
	in_data();
	in_bss();
	in_static_local();
	hidden();
	return 0;
}
