/* Claim: as memcheck, every readable and writable mapping of the program is
 * a root, not only anonymous ones: a private or shared mapping of a file, a
 * shared anonymous mapping, a private mapping of /dev/zero and a memfd keep
 * the blocks they point to reachable. A file mapping longer than its file
 * (the pages past its end would raise SIGBUS) is read up to the end of the
 * file, and the program survives the scan. A mapping made read-only is not
 * a root (memcheck skips it too): its block is definitely lost. Checked
 * against valgrind 3.19 memcheck. */
// EXPECT: record R m 1001 1 file_private
// EXPECT: record R m 1002 1 file_shared
// EXPECT: record R m 1003 1 shared_anon
// EXPECT: record R m 1004 1 dev_zero
// EXPECT: record R m 1005 1 memfd
// EXPECT: record R m 1006 1 past_eof
// EXPECT: record D m 1007 1 read_only
// EXPECT: stdout mapped
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAPLEN 65536

static char dir[] = "/tmp/la-file-maps-XXXXXX";

/* a new file of n bytes in dir, opened read-write, its name removed */
static int new_file(off_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, n) < 0)
		exit(2);
	unlink(path);
	return fd;
}

static void **map_fd(int fd, int flags)
{
	void **m = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (m == MAP_FAILED)
		exit(2);
	if (fd >= 0)
		close(fd);
	return m;
}

/* The mappings are reached from no global: only the blocks' addresses are
 * kept, in the mappings themselves. */
__attribute__((noinline)) void file_private(void)
{
	map_fd(new_file(MAPLEN), MAP_PRIVATE)[10] = malloc(1001);
}

__attribute__((noinline)) void file_shared(void)
{
	map_fd(new_file(MAPLEN), MAP_SHARED)[10] = malloc(1002);
}

__attribute__((noinline)) void shared_anon(void)
{
	map_fd(-1, MAP_SHARED | MAP_ANONYMOUS)[10] = malloc(1003);
}

__attribute__((noinline)) void dev_zero(void)
{
	map_fd(open("/dev/zero", O_RDWR), MAP_PRIVATE)[10] = malloc(1004);
}

__attribute__((noinline)) void memfd(void)
{
	int fd = memfd_create("file-maps", 0);
	if (fd < 0 || ftruncate(fd, MAPLEN) < 0)
		exit(2);
	map_fd(fd, MAP_SHARED)[10] = malloc(1005);
}

/* one page of file under a 16-page mapping */
__attribute__((noinline)) void past_eof(void)
{
	map_fd(new_file(4096), MAP_SHARED)[10] = malloc(1006);
}

__attribute__((noinline)) void read_only(void)
{
	void **m = map_fd(new_file(MAPLEN), MAP_PRIVATE);
	m[10] = malloc(1007);
	mprotect(m, MAPLEN, PROT_READ);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	file_private();
	file_shared();
	shared_anon();
	dev_zero();
	memfd();
	past_eof();
	read_only();
	rmdir(dir);
	puts("mapped");
	return 0;
}
