/* runner.c: runs one benchmark command and writes "<wall ns> <max RSS KB>
 * <wait status> <exit time ns> <user+sys us>" to STATUSFILE. A small C parent, so the child's
 * max RSS is its own and not the forking Python interpreter's (ru_maxrss
 * survives exec). LA_BENCH_PRELOAD becomes the child's LD_PRELOAD, so the
 * runner itself never runs under the tool.  Usage: runner STATUSFILE CMD...
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;

	if (argc < 3)
		return 2;
	const char *pre = getenv("LA_BENCH_PRELOAD");
	long long t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		if (pre && *pre)
			setenv("LD_PRELOAD", pre, 1);
		unsetenv("LA_BENCH_PRELOAD");
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
		return 2;
	long long t1 = now_ns();
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 2;
	long long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	fprintf(f, "%lld %ld %d %lld %lld\n", t1 - t0, ru.ru_maxrss, status, t1, cpu_us);
	return fclose(f) != 0 ? 2 : 0;
}
