/* Claim: memcheck's default leak-check heuristics (stdstring, length64,
 * newarray, multipleinheritance): an interior pointer of one of those shapes
 * from a root or a reachable block makes the block still reachable, as a
 * start pointer would; the same offsets without the shape stay possibly
 * lost; from a possibly lost block they give possibly lost; and grouping
 * lost blocks is unchanged (a lost new[] array is definitely lost, what it
 * points to indirect). stdstring needs the block to be exactly the header,
 * the capacity and a NUL, and the length within the capacity. Checked
 * against valgrind 3.19 memcheck. */
// EXPECT: record R a 56 1 cookie_array
// EXPECT: record R a 48 3 cookie_name
// EXPECT: record D a 40 1 lost_cookie_array
// EXPECT: record I a 32 2 cookie_name
// EXPECT: indirect lost_cookie_array 32 2
// EXPECT: record R n 72 1 mi_object
// EXPECT: record R m 40 1 length64
// EXPECT: record R m 64 1 stdstring
// EXPECT: record P m 40 1 not_a_cookie
// EXPECT: record P m 64 1 no_capacity
// EXPECT: record P m 64 1 short_capacity
// EXPECT: record P m 64 1 long_length
// EXPECT: record P m 48 1 plain_struct
// EXPECT: record P m 32 1 from_possible
// EXPECT: record P a 40 1 from_possible_array
// EXPECT: record R m 8 1 main
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leakagent.h"

#define KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

struct Named {
	virtual ~Named() {}
	char tag[24];
};
struct Counted {
	virtual ~Counted() {}
	virtual void bump() { count++; }
	long count = 0;
};
struct Widget : Named, Counted {
	int w[6];
};
struct Rec {
	char *name = nullptr;
	int id = 0;
	~Rec() { delete[] name; }
};

Rec *g_cookie;           /* new Rec[3]: 8 bytes past the block's start */
Counted *g_second_base;  /* the Counted inside a Widget: 32 bytes in */
char *g_len64;           /* 8 past a block whose first word is its size - 8 */
char *g_str;             /* 24 past a block shaped like an old COW string */
char *g_not_cookie;      /* 8 past a block whose first word divides nothing */
char *g_no_cap;          /* 24 past a block whose capacity word is 0 */
char *g_short_cap;       /* 24 past a block bigger than its capacity needs */
char *g_long_len;        /* 24 past a block whose length exceeds its capacity */
char *g_plain;           /* 16 into a block of no particular shape */
char *g_possible;        /* 16 into a block that points at the next two */
void *g_keep;

__attribute__((noinline)) char *cookie_name(int i)
{
	char *s = new char[16];
	memset(s, 'a' + i, 15);
	s[15] = 0;
	return s;
}

__attribute__((noinline)) Rec *cookie_array(int n)
{
	Rec *r = new Rec[n];
	for (int i = 0; i < n; i++)
		r[i].name = cookie_name(i);
	return r;
}

__attribute__((noinline)) void lost_cookie_array(void)
{
	Rec *r = new Rec[2];
	r[0].name = cookie_name(0);
	r[1].name = cookie_name(1);
	KEEP(r);
}

__attribute__((noinline)) Widget *mi_object(void)
{
	return new Widget();
}

__attribute__((noinline)) void length64(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 40);
	b[0] = 32;
	g_len64 = (char *)(b + 1);
}

__attribute__((noinline)) void stdstring(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 64);
	b[0] = 5;  /* length */
	b[1] = 39; /* capacity: at most 64 - 24 */
	g_str = (char *)(b + 3);
}

__attribute__((noinline)) void not_a_cookie(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 40);
	b[0] = 7; /* 32 % 7 != 0 */
	g_not_cookie = (char *)(b + 1);
}

__attribute__((noinline)) void no_capacity(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 64);
	g_no_cap = (char *)(b + 3);
}

__attribute__((noinline)) void short_capacity(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 64);
	b[0] = 5;  /* length */
	b[1] = 20; /* capacity: 24 + 20 + 1 is not 64 */
	g_short_cap = (char *)(b + 3);
}

__attribute__((noinline)) void long_length(void)
{
	uint64_t *b = (uint64_t *)calloc(1, 64);
	b[0] = 50; /* length above the capacity */
	b[1] = 39;
	g_long_len = (char *)(b + 3);
}

__attribute__((noinline)) void plain_struct(void)
{
	char *b = (char *)calloc(1, 48);
	g_plain = b + 16;
}

__attribute__((noinline)) void *from_possible_array(void)
{
	uint64_t *a = (uint64_t *)operator new[](40);
	memset(a, 0, 40);
	a[0] = 4; /* a newarray shape, but reached from a possibly lost block */
	return a + 1;
}

__attribute__((noinline)) void from_possible(void)
{
	void **p = (void **)calloc(1, 32);
	p[0] = from_possible_array();
	g_possible = (char *)p + 16;
}

__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory");
}

int main(void)
{
	g_keep = malloc(8);
	g_cookie = cookie_array(3);
	lost_cookie_array();
	g_second_base = mi_object();
	length64();
	stdstring();
	not_a_cookie();
	no_capacity();
	short_capacity();
	long_length();
	plain_struct();
	from_possible();
	scrub();
	return 0;
}
