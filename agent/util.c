/* util.c: small async-signal-safe helpers for the agent: mmap-backed memory,
 * a futex lock that needs no allocation and survives fork, number formatting
 * and one-line warnings written with write(2). No malloc, no stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

void *la_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	la_roots_note_map(p, size); /* never a root of the scan */
	return p;
}

void *la_remap(void *p, size_t old_size, size_t size)
{
	void *q = mremap(p, old_size, size, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return NULL; /* p is untouched */
	la_roots_forget_map(p, old_size);
	la_roots_note_map(q, size);
	return q;
}

int la_proc_numbers(const char *path, int *out, int max, int *self)
{
	char buf[4096];
	int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	if (dir < 0)
		return -1;
	if (self)
		*self = dir;
	for (long got; (got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0;) {
		for (long off = 0; off < got;) {
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof(reclen));
			const char *name = buf + off + 19;
			int v = 0, digits = 0;
			for (; *name >= '0' && *name <= '9'; name++, digits++)
				v = v * 10 + (*name - '0');
			if (digits && !*name) {
				if (n < max)
					out[n] = v;
				n++;
			}
			off += reclen;
		}
	}
	close(dir);
	return n;
}

/* Backs [p, p + size) of a fresh mapping with written pages in one call.
 * Memory that is read before it is written (a hash array probed, then
 * filled) otherwise faults twice a page: the read maps the shared zero
 * page, the write faults again to replace it. */
void la_prefault(void *p, size_t size)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
	uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + size) & ~(uintptr_t)4095;
	if (hi <= lo || madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0)
		return;
	for (uintptr_t a = lo; a < hi; a += 4096) /* older kernels: one write fault a page */
		*(volatile char *)a = 0;
}

void la_unmap(void *p, size_t size)
{
	if (p) {
		la_roots_forget_map(p, size);
		munmap(p, size);
	}
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		s += k;
		n -= (size_t)k;
	}
}

void la_warn(const char *first, ...)
{
	char line[1024];
	size_t n = la_strlcpy(line, "leakagent: ", sizeof(line));
	va_list ap;
	int saved = errno;

	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		n += la_strlcpy(line + n, s, sizeof(line) - 1 - n);
	va_end(ap);
	line[n++] = '\n';
	write_all(2, line, n);
	errno = saved;
}

/* Copies what fits (always NUL-terminates when cap > 0); returns bytes copied. */
size_t la_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return 0;
	while (src[n] && n + 1 < cap) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = 0;
	return n;
}

size_t la_fmt_hex(char *buf, uint64_t v)
{
	char tmp[16];
	size_t n = 0, i;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

size_t la_fmt_dec(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Contended path of la_lock: spin briefly (the holder's critical section is
 * a few dozen instructions), then yield, then sleep, so a holder that is
 * preempted or busy with a report is not starved by its waiters. */
void la_lock_slow(la_lock_t *l)
{
	for (unsigned i = 0;; i++) {
		if (__atomic_load_n(&l->v, __ATOMIC_RELAXED) == 0 &&
		    __atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE) == 0)
			return;
		if (i < 256) {
			__builtin_ia32_pause();
		} else {
			int saved = errno;
			if (i < 1024) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 50000 };
				nanosleep(&ts, NULL);
			}
			errno = saved;
		}
	}
}
