/* Claim: a block allocated in a library the program dlclose()d before exit
 * is matched by its stack in every backend: the agent symbolizes unloaded
 * modules, and compare runs memcheck with --keep-debuginfo=yes, without
 * which memcheck forgets the library's symbols at dlclose and shows "???".
 * The library (libaudit_lib.so, found beside the program) loses 48 bytes in
 * audit_lib_leak. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	(void)argc;
	char path[4096];
	const char *slash = strrchr(argv[0], '/');
	snprintf(path, sizeof(path), "%.*s/libaudit_lib.so", slash ? (int)(slash - argv[0]) : 1,
		 slash ? argv[0] : ".");
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	void *(*leak)(size_t) = (void *(*)(size_t))dlsym(h, "audit_lib_leak");
	leak(48);
	dlclose(h);
	return 0;
}
