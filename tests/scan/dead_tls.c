/* Claim: a block kept only in the dynamic TLS (a dlopen()ed library's
 * __thread variable) of a thread that has ended is definitely lost, as
 * memcheck says: glibc keeps the ended thread's stack, DTV and TLS blocks
 * for reuse, but their contents are values of a thread that is gone. The
 * same variable of the main thread, still running, keeps its block
 * reachable. Checked against valgrind 3.19 memcheck. */
// LIBS: libscan_dead_tls_lib.so
// EXPECT: record R m 5001 1 dead_tls_keep
// EXPECT: record D m 5004 1 dead_tls_keep
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static void (*keep)(size_t);

static void *ended(void *arg)
{
	(void)arg;
	keep(5004);
	return NULL;
}

int main(void)
{
	void *h = dlopen("libscan_dead_tls_lib.so", RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	keep = (void (*)(size_t))dlsym(h, "dead_tls_keep");
	keep(5001);
	pthread_t t;
	pthread_create(&t, NULL, ended, NULL);
	pthread_join(t, NULL);
	return 0;
}
