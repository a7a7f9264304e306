/* util.c: small async-signal-safe helpers for the agent: mmap-backed memory,
 * a futex lock that needs no allocation and survives fork, number formatting
 * and one-line warnings written with write(2). No malloc, no stdio.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* 0 free, 1 locked, 2 locked with waiters (Drepper, "Futexes Are Tricky"). */
void la_lock(la_lock_t *l)
{
	int c = __sync_val_compare_and_swap(&l->v, 0, 1);
	if (LA_LIKELY(c == 0))
		return;
	if (c != 2)
		c = __atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		int saved = errno;
		syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		errno = saved;
		c = __atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE);
	}
}

void la_unlock(la_lock_t *l)
{
	if (__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) != 1) {
		int saved = errno;
		syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		errno = saved;
	}
}
