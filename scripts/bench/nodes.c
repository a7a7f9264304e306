/* nodes.c: benchmark workload, small pointer-linked nodes: each round builds
 * a singly linked list and an unbalanced binary search tree of 24..40-byte
 * nodes, walks them, and frees them all (most blocks die young, in bulk).
 * Usage: nodes ROUNDS [NODES_PER_ROUND]
 */
#include <stdio.h>
#include <stdlib.h>

struct item { struct item *next; long v; };
struct tnode { struct tnode *l, *r; long key; long pad; };

static unsigned rng = 7;
static unsigned next_rand(void) { rng = rng * 1103515245u + 12345u; return rng >> 1; }

__attribute__((noinline)) static struct item *list_build(long n)
{
	struct item *head = NULL;
	for (long i = 0; i < n; i++) {
		struct item *it = malloc(sizeof *it);
		it->v = i;
		it->next = head;
		head = it;
	}
	return head;
}

__attribute__((noinline)) static long list_free(struct item *it)
{
	long sum = 0;
	while (it) {
		struct item *nx = it->next;
		sum += it->v;
		free(it);
		it = nx;
	}
	return sum;
}

__attribute__((noinline)) static struct tnode *tree_insert(struct tnode *root, long key)
{
	struct tnode **at = &root;
	while (*at)
		at = key < (*at)->key ? &(*at)->l : &(*at)->r;
	*at = calloc(1, sizeof **at);
	(*at)->key = key;
	return root;
}

static long tree_free(struct tnode *t)
{
	if (!t)
		return 0;
	long s = t->key + tree_free(t->l) + tree_free(t->r);
	free(t);
	return s;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 100;
	long n = argc > 2 ? atol(argv[2]) : 20000;
	long check = 0;

	for (long r = 0; r < rounds; r++) {
		struct item *l = list_build(n);
		struct tnode *t = NULL;
		for (long i = 0; i < n / 2; i++)
			t = tree_insert(t, next_rand() % 1000000);
		check += list_free(l) + tree_free(t);
	}
	printf("%ld\n", check);
	return 0;
}
