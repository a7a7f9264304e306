/* Claim: the agent holds no descriptor of the program's (its first free
 * one is 3, as without the agent), and libunwind never touches one. The
 * program closes every descriptor, opens its input and output (3 and 4),
 * then allocates from frames without unwind information (fds_nocfi_lib.c is
 * built without .eh_frame). Those captures are libunwind's, which starts
 * then and opens its validation pipe; it steps such frames by frame pointer
 * while checking each address is readable, and its pipe check once read 4
 * bytes of the input away and wrote 4 stack bytes into the output. The
 * input must be copied whole, the pipe be closed again (the first free
 * descriptor is 5 after the walks) and the leaked block's stack must run
 * through both no-CFI frames to main. */
// EXPECT: record D m 40 1 nocfi_alloc
// EXPECT: stack nocfi_alloc nocfi_outer main
// EXPECT: stdout first free descriptor 3
// EXPECT: stdout in=3 out=4 copied 18 bytes intact
// EXPECT: stdout after the walks first free descriptor 5
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *nocfi_outer(size_t n);
void *volatile dropped;

int main(void)
{
	static const char text[] = "eighteen bytes in\n";
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/tmp/la-fds-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return 2;
	int probe = dup(0); /* the lowest free descriptor: 3, as without the agent */
	printf("first free descriptor %d\n", probe);
	fflush(stdout);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int in = open(path, O_RDONLY);
	unlink(path);
	char out_path[80];
	snprintf(out_path, sizeof(out_path), "%s.out", path);
	int out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		return 3;
	for (int i = 0; i < 50; i++) {
		void *p = nocfi_outer(40);
		if (i == 49)
			dropped = p; /* one leaks */
		else
			free(p);
	}
	dropped = NULL;
	int after = dup(0);
	close(after);
	ssize_t n = read(in, buf, sizeof(buf));
	if (n > 0 && write(out, buf, (size_t)n) != n)
		return 4;
	char back[64] = { 0 };
	ssize_t m = pread(out, back, sizeof(back), 0);
	unlink(out_path);
	int intact = n == (ssize_t)strlen(text) && m == n && memcmp(back, text, (size_t)n) == 0;
	printf("in=%d out=%d copied %zd bytes %s\n", in, out, n, intact ? "intact" : "damaged");
	printf("after the walks first free descriptor %d\n", after);
	return 0;
}
