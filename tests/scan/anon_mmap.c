/* Claim: an anonymous mapping the program made itself is a root, also when
 * the kernel merged it with a neighbouring malloc'd (mmap'd) chunk; a block
 * referenced only from an unmapped region is lost. */
// EXPECT: record R m 77 1 in_mapping
// EXPECT: record R m 300000 1 big_neighbour
// EXPECT: record D m 88 1 in_unmapped
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *big;

__attribute__((noinline)) void big_neighbour(void)
{
	big = malloc(300000); /* above the mmap threshold: its own mapping */
}

__attribute__((noinline)) void in_mapping(void **region)
{
	region[100] = malloc(77);
}

__attribute__((noinline)) void in_unmapped(void **region)
{
	region[5] = malloc(88);
}

__attribute__((noinline)) void scrub(void)
{
	char buf[16384];
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" ::"r"(buf) : "memory"); /* keep the stores */
}

void **region_addr; /* XOR-free, but only the mapping's address: not a block */

int main(void)
{
	big_neighbour();
	void **r = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void **u = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED || u == MAP_FAILED)
		return 2;
	in_mapping(r);
	in_unmapped(u);
	munmap(u, 1 << 16);
	region_addr = r;
	scrub();
	return 0;
}
