// golden.cpp: the C++ program named by cxx.raw (see regen.sh): demangled
// names of templates and namespaces, and std::vector's allocation inlined
// into the function that leaks it.
#include <vector>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

namespace shapes {
template <typename T> struct Box {
	__attribute__((noinline)) T *make(int n) { return new T[n]; }
};
} // namespace shapes

__attribute__((noinline)) std::vector<int> *leak_vector()
{
	return new std::vector<int>(10);
}

int main()
{
	shapes::Box<long> b;
	KEEP(b.make(4));
	KEEP(leak_vector());
	return 0;
}
