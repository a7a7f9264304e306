/* Claim: memcheck's classification of lost structures. A block with no
 * pointer at all is definitely lost; a lost list's head is definite and
 * carries its nodes as indirect bytes; a lost tree likewise; in a lost cycle
 * one block is definite and the others indirect; a block reached only
 * through a pointer into its middle is possibly lost, and so is what it
 * points to. Two reports (an API snapshot, then exit) give the same answer:
 * the marks are reset after each scan. */
// EXPECT: reports 2
// EXPECT: each-report 1
// EXPECT: record D m 100 1 plain
// EXPECT: record D m 16 1 list_head
// EXPECT: record I m 160 10 list_node
// EXPECT: indirect list_head 160 10
// EXPECT: record D m 24 1 tree_root
// EXPECT: record I m 336 14 tree_node
// EXPECT: indirect tree_root 336 14
// EXPECT: record D m 32 1 cycle
// EXPECT: record I m 64 2 cycle
// EXPECT: indirect cycle 64 2
// EXPECT: record P m 64 1 interior
// EXPECT: record P m 48 1 behind_interior
// EXPECT: record R m 8 1 main
#include <stdlib.h>
#include <string.h>

#include "leakagent.h"

/* the compiler must not delete stores into blocks nobody reads */
#define KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

struct node {
	struct node *next;
	long v;
};
struct tree {
	struct tree *l, *r;
	long v;
};

void *interior_ptr; /* points 16 bytes into a block */

__attribute__((noinline)) void plain(void)
{
	void *volatile p = malloc(100);
	(void)p;
}

__attribute__((noinline)) struct node *list_node(struct node *next)
{
	struct node *n = malloc(sizeof(*n));
	n->next = next;
	KEEP(n);
	return n;
}

__attribute__((noinline)) void list_head(void)
{
	struct node *l = NULL;
	for (int i = 0; i < 10; i++)
		l = list_node(l);
	struct node *h = malloc(sizeof(*h));
	h->next = l;
	KEEP(h);
}

__attribute__((noinline)) struct tree *tree_node(int depth)
{
	if (depth == 0)
		return NULL;
	struct tree *t = malloc(sizeof(*t));
	t->l = tree_node(depth - 1);
	t->r = tree_node(depth - 1);
	KEEP(t);
	return t;
}

__attribute__((noinline)) void tree_root(void)
{
	struct tree *t = malloc(sizeof(*t));
	t->l = tree_node(3); /* 7 nodes */
	t->r = tree_node(3); /* 7 nodes */
	KEEP(t);
}

__attribute__((noinline)) void cycle(void)
{
	void **a = malloc(32), **b = malloc(32), **c = malloc(32);
	memset(a, 0, 32);
	memset(b, 0, 32);
	memset(c, 0, 32);
	a[0] = b;
	b[0] = c;
	c[0] = a;
	KEEP(a);
	KEEP(b);
	KEEP(c);
}

__attribute__((noinline)) void *behind_interior(void)
{
	return calloc(1, 48);
}

__attribute__((noinline)) void interior(void)
{
	void **p = calloc(1, 64);
	p[3] = behind_interior(); /* a start pointer, but from a possibly lost block */
	KEEP(p);
	interior_ptr = (char *)p + 16;
}

/* Overwrite the dead frames below us, so no stale copy of a pointer
 * survives on the stack. */
__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

void *global_keep;

int main(void)
{
	global_keep = malloc(8);
	plain();
	list_head();
	tree_root();
	cycle();
	interior();
	scrub();
	leakagent_snapshot(0);
	return 0;
}
