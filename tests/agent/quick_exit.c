/* Claim: a program that ends with quick_exit gets its exit report, written
 * after its at_quick_exit handlers (which may still free or drop blocks),
 * with its status and output unchanged. glibc's quick_exit runs the
 * handlers and calls its internal _exit, which the agent's _exit never
 * sees: before, such a program had no report at all. */
// EXPECT: record R m 30 1 kept_block
// EXPECT: record D m 20 1 dropped_block
// EXPECT: stdout handler ran
// EXPECT: exit 4
#include <stdio.h>
#include <stdlib.h>

void *kept;
void *volatile dropped;

__attribute__((noinline)) void kept_block(void)
{
	kept = malloc(30);
}

__attribute__((noinline)) void dropped_block(void)
{
	dropped = malloc(20);
}

static void handler(void)
{
	dropped_block();
	dropped = NULL; /* lost only once the handlers ran */
	puts("handler ran");
	fflush(stdout);
}

int main(void)
{
	kept_block();
	at_quick_exit(handler);
	quick_exit(4);
}
