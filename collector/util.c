/* util.c: memory that never fails quietly, formatted strings, and the
 * diagnostics every part of the collector reports through: one line per
 * problem, "leakagent: error: <what>: <why>", remembered for the json output.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

int la_bad_input;
const char *la_problems[256];
size_t la_nproblems;

static void oom(void)
{
	fputs("leakagent: error: out of memory\n", stderr);
	exit(2);
}

void *la_xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *la_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *la_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *la_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return s;
}

static void emit(const char *level, const char *what, const char *fmt, va_list ap)
{
	char *why;
	if (vasprintf(&why, fmt, ap) < 0)
		oom();
	char *line = la_xasprintf("%s: %s: %s", level, what, why);
	fprintf(stderr, "leakagent: %s\n", line);
	if (la_nproblems < sizeof(la_problems) / sizeof(la_problems[0]))
		la_problems[la_nproblems++] = line;
	free(why);
}

void la_error(const char *what, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("error", what, fmt, ap);
	va_end(ap);
	if (hint)
		fprintf(stderr, "hint: %s\n", hint);
	la_bad_input = 1;
}

void la_warning(const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("warning", what, fmt, ap);
	va_end(ap);
}

const char *la_commas(uint64_t v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

char *la_private_dir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	/* the agent's option string is ':'-separated: a path with ':' cannot pass */
	if (!tmp || !*tmp || strchr(tmp, ':'))
		tmp = "/tmp";
	char *d = la_xasprintf("%s/%s.XXXXXX", tmp, name);
	if (!mkdtemp(d)) {
		la_error(d, NULL, "cannot create a private directory: %s", strerror(errno));
		free(d);
		return NULL;
	}
	return d;
}

void la_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

int la_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}
