/* Claim: every call of include/leakagent.h compiles, links without the agent
 * and runs either way (run plainly by the 'api-plain' test). Under the
 * agent: an ignored block is not reported but what it points to is
 * reachable; blocks allocated in a disabled scope are not reported; a
 * registered root region keeps what it points to reachable; once
 * unregistered, what it points to hangs from a lost block (the region's own
 * block), so it is indirectly lost; a snapshot writes a report. */
// EXPECT: reports 2
// EXPECT: record R m 31 1 behind_ignored
// EXPECT: record R m 32 1 behind_root
// EXPECT: record I m 33 1 behind_unregistered
// EXPECT: indirect dead_region 33 1
// EXPECT: record D m 64 1 root_region
// EXPECT: record D m 64 1 dead_region
// EXPECT: stdout api ok
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakagent.h"

#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);  \
			exit(3);                                                  \
		}                                                                 \
	} while (0)

__attribute__((noinline)) void *ignored_block(void) { return malloc(30); }
__attribute__((noinline)) void *behind_ignored(void) { return malloc(31); }
__attribute__((noinline)) void *behind_root(void) { return malloc(32); }
__attribute__((noinline)) void *behind_unregistered(void) { return malloc(33); }
__attribute__((noinline)) void *root_region(void) { return calloc(8, 8); }
__attribute__((noinline)) void *dead_region(void) { return calloc(8, 8); }
__attribute__((noinline)) void *in_scope(void) { return malloc(34); }

__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

__attribute__((noinline)) void setup(int agent)
{
	void **ig = ignored_block();
	ig[0] = behind_ignored();
	CHECK(leakagent_ignore_object(ig) == (agent ? 0 : -1));
	CHECK(leakagent_ignore_object(&agent) == -1); /* not a heap block */

	{
		LEAKAGENT_DISABLE_SCOPE;
		void *volatile p = in_scope();
		(void)p;
	}

	void **root = root_region();   /* itself lost, but registered as a root */
	root[2] = behind_root();
	CHECK(leakagent_register_root(root, 64) == (agent ? 0 : -1));
	void **dead = dead_region();   /* registered, then unregistered */
	dead[5] = behind_unregistered();
	__asm__ volatile("" ::"r"(root), "r"(dead) : "memory");
	CHECK(leakagent_register_root(dead, 64) == (agent ? 0 : -1));
	CHECK(leakagent_unregister_root(dead, 64) == (agent ? 0 : -1));
	CHECK(leakagent_unregister_root(dead, 64) == -1);
	root = dead = ig = NULL;
}

int main(void)
{
	int agent = leakagent_active();
	setup(agent);
	scrub();
	CHECK(leakagent_snapshot(0) == (agent ? 0 : -1));
	leakagent_disable();
	leakagent_enable();
	puts("api ok");
	return 0;
}
