/* Claim: a program that frees everything it allocates has no outstanding
 * blocks of its own, whatever libc does for it (stdio, locale, threads). */
// EXPECT: stdout clean
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
	char *p = malloc(1000);
	memset(p, 1, 1000);
	free(p);
	return arg;
}

int main(void)
{
	pthread_t t[4];
	setlocale(LC_ALL, "C.UTF-8");
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char *s = NULL;
	size_t n = 0;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && getline(&s, &n, f) > 0)
		;
	free(s);
	if (f)
		fclose(f);
	printf("clean\n");
	return 0;
}
