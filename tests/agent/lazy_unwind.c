/* Claim: libunwind is not loaded until a walk needs it, and loading it then
 * leaves the program's pending dlerror() message alone. The program checks
 * its own maps for libunwind, makes a dlopen() fail, allocates from frames
 * without unwind information (fds_nocfi_lib.c), which only libunwind can
 * walk, and only then reads dlerror(): the message must be its own, and
 * libunwind must now be mapped. The leaked block's stack runs through both
 * no-CFI frames to main. */
// EXPECT: record D m 24 1 nocfi_alloc
// EXPECT: stack nocfi_alloc nocfi_outer main
// EXPECT: stdout libunwind mapped before: no
// EXPECT: stdout dlerror after the walk: mine
// EXPECT: stdout libunwind mapped after: yes
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void *nocfi_outer(size_t n);
void *volatile dropped;

static const char *mapped(void)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, "/libunwind") != NULL;
	if (f)
		fclose(f);
	return found ? "yes" : "no";
}

int main(void)
{
	printf("libunwind mapped before: %s\n", mapped());
	if (dlopen("/nonexistent/libla-nope.so", RTLD_NOW))
		return 2;
	dropped = nocfi_outer(24); /* leaks */
	const char *e = dlerror();
	printf("dlerror after the walk: %s\n", e && strstr(e, "libla-nope.so") ? "mine" : e ? e : "(none)");
	printf("libunwind mapped after: %s\n", mapped());
	dropped = NULL;
	return 0;
}
