/* defsupp.c: a program with no leak of its own that dlopens, fails a dlopen
 * and a dlsym, runs threads (one ending in pthread_exit, which loads
 * libgcc_s) and sets environment variables (glibc keeps the strings it
 * made in a tsearch tree): with the default suppressions its report has no
 * definitely or possibly lost record, as memcheck's has none. With argument "leak", the
 * constructor of libdefsupp_mod.so calls back into the program, which keeps
 * its own malloc nowhere: that definitely lost record, made under dlopen,
 * stays reported. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

int defsupp_want_leak;

/* called by libdefsupp_mod.so's constructor, under dlopen */
__attribute__((noinline)) void defsupp_lose(void)
{
	if (!defsupp_want_leak)
		return;
	void *p = malloc(4321);
	KEEP(p);
}

static void *worker(void *arg)
{
	if (arg)
		pthread_exit(NULL); /* dlopens libgcc_s for the unwinder */
	return NULL;
}

int main(int argc, char **argv)
{
	defsupp_want_leak = argc > 1 && !strcmp(argv[1], "leak");
	char path[4096];
	snprintf(path, sizeof(path), "%s/libdefsupp_mod.so", argc > 2 ? argv[2] : ".");
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	dlsym(h, "no_such_symbol");                 /* the failure is kept for dlerror() */
	dlopen("/nonexistent/libnone.so", RTLD_NOW); /* and replaced by this one */
	pthread_t t[2];
	pthread_create(&t[0], NULL, worker, NULL);
	pthread_create(&t[1], NULL, worker, (void *)1);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	char name[32];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "DEFSUPP_VAR%d", i);
		setenv(name, "value", 1);
	}
	setenv("DEFSUPP_VAR0", "other value", 1);
	return 0;
}
