/* Claim: a global of a dlopen()ed library (still loaded) is a root. */
// LIBS: libscan_dlopen_lib.so
// EXPECT: record R m 4321 1 lib_keep
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
	void *h = dlopen("libscan_dlopen_lib.so", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	void (*f)(void) = (void (*)(void))dlsym(h, "lib_keep");
	f();
	return 0;
}
