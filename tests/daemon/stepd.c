/* stepd.c: a small daemon for the snapshot and diff tests. It allocates only
 * when told, one command per line on stdin, and answers each on stdout:
 *   leak N SIZE   leak_lost: N blocks of SIZE bytes, dropped (definitely lost)
 *   keep N SIZE   cache_keep: N blocks of SIZE bytes kept in a global array
 *                 (still reachable), newest last
 *   keep-a N SIZE the same through keep_from_a, keep-b through keep_from_b:
 *                 two stacks that agree in their first frame only
 *   drop N        frees the N newest kept blocks
 *   drop-old N    frees the N oldest kept blocks
 *   ping          answers "pong": the daemon still serves
 *   quit          exit(0)
 * Every other command answers "ok"; a bad one answers "bad". Between
 * commands it sits in read(): nothing is allocated while a snapshot runs.
 * With the argument --main-exits, a second thread serves the commands and
 * the main thread calls pthread_exit, leaving a zombie leader in /proc.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXKEEP 4096

static void *kept[MAXKEEP];
static int nkept;

__attribute__((noinline)) static void leak_lost(int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		void *volatile p = malloc(size);
		__asm__ volatile("" : : "r"(p) : "memory");
		p = NULL;
	}
}

__attribute__((noinline)) static void cache_keep(int n, size_t size)
{
	for (int i = 0; i < n && nkept < MAXKEEP; i++)
		kept[nkept++] = malloc(size);
}

__attribute__((noinline)) static void keep_from_a(int n, size_t size)
{
	cache_keep(n, size);
	__asm__ volatile(""); /* no tail call: keep this frame on the stack */
}

__attribute__((noinline)) static void keep_from_b(int n, size_t size)
{
	cache_keep(n, size);
	__asm__ volatile("");
}

static void drop(int n, int oldest)
{
	for (; n > 0 && nkept > 0; n--) {
		if (oldest) {
			free(kept[0]);
			memmove(kept, kept + 1, (size_t)--nkept * sizeof(kept[0]));
		} else {
			free(kept[--nkept]);
		}
		kept[nkept] = NULL;
	}
}

/* Overwrite the dead frames below us, so no stale copy of a dropped pointer
 * stays on the stack where the reachability scan would find it. */
__attribute__((noinline)) static void scrub(void)
{
	volatile char pad[16384];
	memset((char *)pad, 0, sizeof(pad));
}

static void *serve(void *arg)
{
	char line[256], cmd[32];
	int n;
	size_t size;
	(void)arg;
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		int k = sscanf(line, "%31s %d %zu", cmd, &n, &size);
		const char *answer = "ok";
		if (k >= 1 && !strcmp(cmd, "quit"))
			break;
		if (k >= 1 && !strcmp(cmd, "ping"))
			answer = "pong";
		else if (k == 3 && !strcmp(cmd, "leak"))
			leak_lost(n, size);
		else if (k == 3 && !strcmp(cmd, "keep"))
			cache_keep(n, size);
		else if (k == 3 && !strcmp(cmd, "keep-a"))
			keep_from_a(n, size);
		else if (k == 3 && !strcmp(cmd, "keep-b"))
			keep_from_b(n, size);
		else if (k == 2 && !strcmp(cmd, "drop"))
			drop(n, 0);
		else if (k == 2 && !strcmp(cmd, "drop-old"))
			drop(n, 1);
		else
			answer = "bad";
		scrub();
		printf("%s\n", answer);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--main-exits")) {
		pthread_t t;
		if (pthread_create(&t, NULL, serve, NULL) != 0)
			return 2;
		pthread_exit(NULL);
	}
	serve(NULL);
}
