/* Claim: C++ operators new and delete in all their forms are tracked by
 * family; freeing with the wrong family is a finding with both stacks and
 * the block is still freed; leaked objects name the allocating function. */
// EXPECT: record R n 48 2 make_objects
// EXPECT: record R a 400 1 make_objects
// EXPECT: record R n 128 1 make_aligned
// EXPECT: record R n 24 1 make_nothrow
// EXPECT: record R a 40 1 make_nothrow
// EXPECT: finding mismatch a m free_wrong
// EXPECT: finding mismatch m n free_wrong
// EXPECT: finding mismatch n a free_wrong
// EXPECT: stdout cxx ok
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

struct Node {
	Node *next;
	long payload[2];
};
struct alignas(64) Wide {
	char bytes[128];
};

static void *volatile sink[16];

__attribute__((noinline)) void make_objects()
{
	sink[0] = new Node{nullptr, {1, 2}};
	sink[1] = new Node{nullptr, {3, 4}};
	sink[2] = new int[100];
}

__attribute__((noinline)) void make_aligned()
{
	sink[3] = new Wide;
}

__attribute__((noinline)) void make_nothrow()
{
	sink[4] = new (std::nothrow) Node;
	sink[5] = new (std::nothrow) int[10];
}

__attribute__((noinline)) void free_wrong()
{
	int *a = new int[4];
	sink[8] = a;
	free(sink[8]); /* new[] freed with free */
	Node *m = static_cast<Node *>(malloc(sizeof(Node)));
	delete m; /* malloc freed with delete */
	Node *n = new Node;
	delete[] reinterpret_cast<char *>(n); /* new freed with delete[] */
}

int main()
{
	make_objects();
	make_aligned();
	make_nothrow();
	free_wrong();
	/* sized, aligned and nothrow deletes pair cleanly with their news */
	Wide *w = new Wide;
	delete w;
	std::vector<std::string> v;
	for (int i = 0; i < 100; i++)
		v.push_back(std::string(40, 'a' + i % 26));
	v.clear();
	v.shrink_to_fit();
	std::puts("cxx ok");
	return 0;
}
