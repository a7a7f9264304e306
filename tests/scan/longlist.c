/* Claim: the flood fill is iterative: a 200000-node list reachable from a
 * global and a 200000-node lost list are both classified without
 * overflowing anything (the lost one: one definite head, the rest
 * indirect and counted on it). */
// EXPECT: record R m 3200000 200000 reach_node
// EXPECT: record D m 16 1 lost_node
// EXPECT: record I m 3199984 199999 lost_node
// EXPECT: indirect lost_node 3199984 199999
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	long v;
};

struct node *reach_list;

__attribute__((noinline)) struct node *reach_node(struct node *next)
{
	struct node *n = malloc(sizeof(*n));
	n->next = next;
	return n;
}

__attribute__((noinline)) struct node *lost_node(struct node *next)
{
	struct node *n = malloc(sizeof(*n));
	n->next = next;
	return n;
}

__attribute__((noinline)) void build_lost(void)
{
	struct node *l = NULL;
	for (int i = 0; i < 200000; i++)
		l = lost_node(l);
	__asm__ volatile("" ::"r"(l) : "memory");
}

__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

int main(void)
{
	for (int i = 0; i < 200000; i++)
		reach_list = reach_node(reach_list);
	build_lost();
	scrub();
	return 0;
}
