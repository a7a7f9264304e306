// Claim: C++ leaks are matched across backends through operator new and
// new[]: a lost object (new), a lost array (new[]) and a lost std::vector
// buffer whose allocation is inlined into make_vector.
#include <vector>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

struct Node {
	long v[4];
};

__attribute__((noinline)) static void lose_node()
{
	Node *n = new Node();
	KEEP(n);
}

__attribute__((noinline)) static void lose_array()
{
	int *a = new int[25];
	KEEP(a);
}

__attribute__((noinline)) static void lose_vector()
{
	auto *v = new std::vector<int>(10);
	KEEP(v);
}

// Overwrites dead stack slots that may still hold the lost pointers, or a
// conservative scan at exit would call them reachable.
__attribute__((noinline)) static void clear_stack()
{
	volatile char pad[4096];
	for (unsigned i = 0; i < sizeof(pad); i++)
		pad[i] = 0;
}

int main()
{
	lose_node();
	lose_array();
	lose_vector();
	clear_stack();
	return 0;
}
