/* Claim: a block leaked by a dlopen()ed library that is dlclose()d before
 * exit is reported with its frame in that library, and the library stays in
 * the report's module map, marked unloaded, with its build-id. */
// LIBS: libdlopen_lib.so
// EXPECT: record R m 4242 1 lib_leak
// EXPECT: module libdlopen_lib.so U
#include <dlfcn.h>
#include <stdio.h>

static void *volatile sink;

int main(int argc, char **argv)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/libdlopen_lib.so", argc > 1 ? argv[1] : ".");
	void *h = dlopen("libdlopen_lib.so", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	void *(*f)(void) = (void *(*)(void))dlsym(h, "lib_leak");
	sink = f();
	dlclose(h);
	return 0;
}
