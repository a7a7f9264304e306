/* Claim: every allocation entry point behaves exactly as glibc's does under
 * the agent (realloc of NULL and to 0, failed realloc keeps the old block,
 * posix_memalign's error, errno kept by free, calloc and reallocarray
 * overflow), and each block that stays is reported with the right size. */
// EXPECT: record R m 10 1 keep_failed
// EXPECT: record R m 64 1 aligned
// EXPECT: record R m 100 1 aligned
// EXPECT: record R m 32 1 aligned
// EXPECT: record R m 4096 1 aligned
// EXPECT: record R m 4096 1 paged
// EXPECT: record R m 24 1 arr
// EXPECT: stdout edge ok
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                      \
	do {                                                          \
		if (!(c)) {                                           \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
			exit(3);                                      \
		}                                                     \
	} while (0)
#define KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

static void *volatile sink[16];

__attribute__((noinline)) void keep_failed(void)
{
	char *p = malloc(10);
	memset(p, 'x', 10);
	errno = 0;
	char *q = realloc(p, SIZE_MAX - 4096); /* fails: p stays valid and tracked */
	CHECK(q == NULL && errno == ENOMEM);
	CHECK(p[9] == 'x');
	sink[0] = p;
}

__attribute__((noinline)) void aligned(void)
{
	void *p = NULL;
	CHECK(posix_memalign(&p, 3, 16) == EINVAL && p == NULL); /* not a power of two */
	CHECK(posix_memalign(&p, 64, 64) == 0 && ((uintptr_t)p & 63) == 0);
	sink[1] = p;
	sink[2] = memalign(256, 100);
	CHECK(((uintptr_t)sink[2] & 255) == 0);
	sink[3] = aligned_alloc(32, 32);
	CHECK(((uintptr_t)sink[3] & 31) == 0);
	sink[4] = valloc(4096);
	CHECK(((uintptr_t)sink[4] & 4095) == 0);
}

__attribute__((noinline)) void paged(void)
{
	sink[5] = pvalloc(100); /* pvalloc rounds up to a page */
}

__attribute__((noinline)) void arr(void)
{
	sink[6] = reallocarray(NULL, 3, 8);
}

int main(void)
{
	/* realloc(NULL, n) is malloc; realloc(p, 0) frees p and returns NULL in glibc */
	void *p = realloc(NULL, 40);
	CHECK(p != NULL);
	CHECK(realloc(p, 0) == NULL);

	errno = 0;
	CHECK(calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(reallocarray(NULL, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);

	errno = 1234;
	free(malloc(1));
	free(NULL);
	CHECK(errno == 1234);

	void *u = malloc(100);
	CHECK(malloc_usable_size(u) >= 100);
	free(u);
	CHECK(malloc_usable_size(NULL) == 0);

	void *z = malloc(0); /* glibc: a unique, freeable pointer */
	CHECK(z != NULL);
	free(z);

	keep_failed();
	aligned();
	paged();
	arr();
	puts("edge ok");
	return 0;
}
