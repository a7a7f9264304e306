/* leaky.c: the example program the README's first command runs under
 * leakagent. A tiny word counter with the classic mistakes: a buffer that
 * is dropped, a list whose head is lost (so its nodes are lost with it),
 * a pointer kept only to the middle of a block, and a cache that is still
 * reachable at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct word {
	struct word *next;
	char text[24];
	int count;
};

static struct word *cache; /* still reachable at exit */
static char *cursor;       /* points into the middle of a block */

static struct word *add(struct word *head, const char *w)
{
	for (struct word *p = head; p; p = p->next)
		if (strcmp(p->text, w) == 0) {
			p->count++;
			return head;
		}
	struct word *n = calloc(1, sizeof(*n));
	snprintf(n->text, sizeof(n->text), "%s", w);
	n->count = 1;
	n->next = head;
	return n;
}

static char *read_words(void)
{
	char *buf = malloc(256);
	strcpy(buf, "the quick brown fox jumps over the lazy dog the end");
	return buf;
}

static int count_words(void)
{
	char *text = read_words();
	char *copy = strdup(text); /* never freed: definitely lost */
	struct word *list = NULL;
	for (char *w = strtok(text, " "); w; w = strtok(NULL, " "))
		list = add(list, w);
	int distinct = 0;
	for (struct word *p = list; p; p = p->next)
		distinct++;
	free(text);
	(void)copy;
	return distinct; /* list dropped: one node definitely lost, the rest indirectly */
}

int main(void)
{
	printf("%d distinct words\n", count_words());
	cache = add(add(NULL, "cached"), "words");
	char *scratch = malloc(64);
	cursor = scratch + 16; /* only an interior pointer remains: possibly lost */
	return 0;
}
