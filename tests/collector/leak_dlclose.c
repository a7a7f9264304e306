/* Claim: a block allocated by a library that was dlclose()d before the
 * report is still symbolized (dlmod_leak, dlmod.c) from the module map. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 1;
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	void *(*fn)(void) = (void *(*)(void))dlsym(h, "dlmod_leak");
	fn();
	dlclose(h);
	return 0;
}
