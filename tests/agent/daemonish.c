/* Daemon habits: the program leaks, chdirs into a directory it then removes,
 * then to /, closes every descriptor, and exits with status 7. Checked by
 * process.py: the report still lands in the directory the program started
 * in (a relative output template), with the record, and the exit status is 7. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) void daemon_leak(void) { sink = malloc(2468); }

int main(void)
{
	char dir[] = "/tmp/la-daemonish-XXXXXX";
	daemon_leak();
	if (!mkdtemp(dir) || chdir(dir) != 0 || rmdir(dir) != 0 || chdir("/") != 0)
		return 2;
	for (int fd = 0; fd < 1024; fd++)
		close(fd);
	return 7;
}
