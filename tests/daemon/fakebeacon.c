/* fakebeacon.c: a process that shows a leakagent beacon in /proc/PID/maps
 * (a memfd named "leakagent:10:12:<argv[1]>") without the agent, and does not
 * catch SIGUSR1: `leakagent snapshot` must refuse to send it the signal,
 * which would kill it. Prints "ready", then waits for stdin to close.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char name[249];
	snprintf(name, sizeof(name), "leakagent:10:12:%s", argc > 1 ? argv[1] : "");
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0 || mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) {
		perror("fakebeacon");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
