// newdel.cc: benchmark workload, C++ new/delete churn: objects held by
// unique_ptr in a ring, short std::strings, and vector growth, so operator
// new/delete (plain, array and sized) dominate.
// Usage: newdel ITERATIONS
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

struct Obj {
	long a, b;
	std::string name;
	Obj(long x) : a(x), b(x * 3), name("object-with-a-longish-name-" + std::to_string(x)) {}
};

int main(int argc, char **argv)
{
	long iters = argc > 1 ? std::atol(argv[1]) : 1000000;
	std::vector<std::unique_ptr<Obj>> ring(2048);
	unsigned x = 99;
	long check = 0;

	for (long i = 0; i < iters; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) % ring.size();
		ring[k].reset(new Obj(i));                // new Obj + its string
		if ((i & 15) == 0) {
			std::vector<int> v;               // vector growth: new[]-like chain
			for (int j = 0; j < 40; j++)
				v.push_back(j);
			check += v.back();
		}
		if ((i & 7) == 0) {
			char *buf = new char[64 + (x >> 26)];
			buf[0] = 1;
			check += buf[0];
			delete[] buf;
		}
	}
	std::printf("%ld\n", check + (long)ring[0]->name.size());
	return 0;
}
