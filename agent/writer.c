/* writer.c: report files, created safely and atomically. The destination
 * directory is fixed at start (daemons chdir and close descriptors later);
 * a report is written to a private temporary file that is created exclusively
 * and never through a symlink, then renamed into place without replacing
 * anything, so a file with the final name is always complete.
 * It also publishes where reports go, for `leakagent snapshot` (la_writer_beacon).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

LA_BIG char la_exe_path[4096];
static LA_BIG char tmpl[4096]; /* absolute output template */
static LA_BIG char final_path[4096];
static LA_BIG char tmp_path[4096];

void la_writer_init(void)
{
	ssize_t n = readlink("/proc/self/exe", la_exe_path, sizeof(la_exe_path) - 1);
	la_exe_path[n > 0 ? n : 0] = 0;
	if (la_opt.output[0] == '/') {
		la_strlcpy(tmpl, la_opt.output, sizeof(tmpl));
		return;
	}
	if (!getcwd(tmpl, sizeof(tmpl) - 1)) {
		la_strlcpy(tmpl, la_opt.output, sizeof(tmpl)); /* cwd gone: stay relative */
		return;
	}
	size_t len = strlen(tmpl);
	if (len > 1)
		tmpl[len++] = '/';
	la_strlcpy(tmpl + len, la_opt.output, sizeof(tmpl) - len);
}

/* A one-page shared mapping of a memfd named
 * "leakagent:<signal_full>:<signal_delta>:<template>", so /proc/PID/maps tells
 * a collector that the agent is loaded, which signals ask for snapshots and
 * where the reports appear, without ptrace and without a descriptor the
 * program could close. A template too long for a memfd name is left empty. */
void la_writer_beacon(void)
{
	char name[250] = "leakagent:", *o = name + 10; /* the kernel's limit: 249 */
	o += la_fmt_dec(o, (uint64_t)la_opt.signal_full);
	*o++ = ':';
	o += la_fmt_dec(o, (uint64_t)la_opt.signal_delta);
	*o++ = ':';
	la_strlcpy(o, strlen(tmpl) < sizeof(name) - (size_t)(o - name) ? tmpl : "",
		   sizeof(name) - (size_t)(o - name));
	int fd = (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
	if (fd < 0)
		return;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		la_roots_note_map(p, 4096);
}

static size_t put(char *dst, size_t n, size_t cap, const char *s, size_t len)
{
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		dst[n++] = s[i];
	return n;
}

static void expand(char *out, size_t cap, const char *trigger, unsigned seq)
{
	const char *exe = strrchr(la_exe_path, '/');
	char num[24];
	size_t n = 0;

	exe = exe ? exe + 1 : la_exe_path;
	for (const char *p = tmpl; *p; p++) {
		if (*p != '%' || !p[1]) {
			n = put(out, n, cap, p, 1);
			continue;
		}
		switch (*++p) {
		case 'e': n = put(out, n, cap, exe, strlen(exe)); break;
		case 't': n = put(out, n, cap, trigger, strlen(trigger)); break;
		case 'p': n = put(out, n, cap, num, la_fmt_dec(num, (uint64_t)getpid())); break;
		case 'n': n = put(out, n, cap, num, la_fmt_dec(num, seq)); break;
		default: n = put(out, n, cap, p, 1); break; /* %% and unknown: literal */
		}
	}
	out[n] = 0;
}

static void tmp_name(char *out, size_t cap, const char *final, unsigned k)
{
	const char *slash = strrchr(final, '/');
	size_t dirlen = slash ? (size_t)(slash - final) + 1 : 0;
	char num[24];
	size_t n = put(out, 0, cap, final, dirlen);
	n = put(out, n, cap, ".", 1);
	n = put(out, n, cap, final + dirlen, strlen(final + dirlen));
	n = put(out, n, cap, ".tmp", 4);
	n = put(out, n, cap, num, la_fmt_dec(num, k));
	out[n] = 0;
}

static void fail(const char *what, const char *path, int err)
{
	la_warn("cannot ", what, " report ", path, ": ", strerrordesc_np(err),
		" (choose a writable place with LEAKAGENT_OPTIONS=output=DIR/leakagent.%e.%p.%n.raw)",
		NULL);
}

int la_writer_open(struct la_writer *w, const char *trigger, unsigned seq)
{
	w->len = w->lines = 0;
	w->failed = 0;
	expand(final_path, sizeof(final_path), trigger, seq);
	for (unsigned k = 0; k < 100; k++) {
		tmp_name(tmp_path, sizeof(tmp_path), final_path, k);
		w->fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		fail("create", final_path, errno);
		return -1;
	}
	la_writer_str(w, LA_RAW_MAGIC);
	la_writer_hex(w, LA_RAW_VERSION);
	la_writer_eol(w);
	return 0;
}

static void flush(struct la_writer *w)
{
	size_t off = 0;
	while (off < w->len && !w->failed) {
		ssize_t k = write(w->fd, w->buf + off, w->len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			w->failed = k < 0 ? errno : EIO;
		else
			off += (size_t)k;
	}
	w->len = 0;
}

void la_writer_str(struct la_writer *w, const char *s)
{
	for (; *s; s++) {
		if (w->len == sizeof(w->buf))
			flush(w);
		w->buf[w->len++] = *s;
	}
}

void la_writer_hex(struct la_writer *w, uint64_t v)
{
	char num[20];
	num[0] = ' ';
	num[1 + la_fmt_hex(num + 1, v)] = 0;
	la_writer_str(w, num);
}

void la_writer_esc(struct la_writer *w, const char *s)
{
	char c[4] = { ' ', 0 };
	la_writer_str(w, c);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == '%' || *p >= 0x7f) {
			c[0] = '%';
			c[1] = "0123456789ABCDEF"[*p >> 4];
			c[2] = "0123456789ABCDEF"[*p & 15];
			c[3] = 0;
		} else {
			c[0] = (char)*p;
			c[1] = 0;
		}
		la_writer_str(w, c);
	}
}

void la_writer_tag(struct la_writer *w, char tag)
{
	char t[2] = { tag, 0 };
	la_writer_str(w, t);
}

void la_writer_eol(struct la_writer *w)
{
	la_writer_str(w, "\n");
	w->lines++;
}

/* Publish tmp as final without replacing an existing file; on a filesystem
 * without RENAME_NOREPLACE, link+unlink gives the same guarantee. */
static int publish(const char *tmp, const char *final)
{
	if (syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(tmp, final) < 0)
		return -1;
	unlink(tmp);
	return 0;
}

int la_writer_commit(struct la_writer *w)
{
	la_writer_tag(w, 'e');
	la_writer_hex(w, w->lines);
	la_writer_eol(w);
	flush(w);
	if (close(w->fd) < 0 && !w->failed)
		w->failed = errno;
	if (w->failed) {
		fail("write", final_path, w->failed);
		unlink(tmp_path);
		return -1;
	}
	/* The name is taken (a reused pid, a planted file): name-2, name-3, ... */
	char name[sizeof(final_path)], num[24];
	la_strlcpy(name, final_path, sizeof(name));
	for (unsigned dup = 2; publish(tmp_path, name) < 0; dup++) {
		if (errno != EEXIST || dup > 1000) {
			fail("publish", name, errno);
			unlink(tmp_path);
			return -1;
		}
		size_t n = put(name, strlen(final_path), sizeof(name), "-", 1);
		n = put(name, n, sizeof(name), num, la_fmt_dec(num, dup));
		name[n] = 0;
	}
	return 0;
}
