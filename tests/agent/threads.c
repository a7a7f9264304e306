/* Claim: allocations and frees racing in many threads are all accounted:
 * each of 8 threads makes 20000 allocations, frees all but 10, and exactly
 * those 80 blocks are reported. */
// EXPECT: record R m 5120 80 keep_some
#include <pthread.h>
#include <stdlib.h>

#define N 20000

__attribute__((noinline)) void *keep_some(size_t n)
{
	return malloc(n);
}

static void *volatile kept[8][10];

static void *work(void *arg)
{
	long id = (long)arg;
	void **v = malloc(N * sizeof(void *));
	for (int i = 0; i < N; i++)
		v[i] = malloc((size_t)(i % 200) + 1);
	for (int i = 0; i < N; i++)
		free(v[i]);
	free(v);
	for (int i = 0; i < 10; i++)
		kept[id][i] = keep_some(64);
	return NULL;
}

int main(void)
{
	pthread_t t[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	return 0;
}
