/* spawn.c: runs a program under another tool (valgrind, a preloaded
 * tcmalloc) for the audit backends: extra environment, stdout and stderr
 * kept in a log file so the tool's banner can be checked and the program's
 * own output does not mix with the comparison table, wall time measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int la_spawn_run(struct la_spawn *s)
{
	int fds[2], err = 0;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	int log = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	/* like system(): ^C goes to the program, we stay to compare */
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldint, oldquit;
	sigaction(SIGINT, &ign, &oldint);
	sigaction(SIGQUIT, &ign, &oldquit);
	double t0 = now();
	pid_t pid = fork();
	s->pid = pid > 0 ? pid : 0;
	if (pid == 0) {
		sigaction(SIGINT, &oldint, NULL);
		sigaction(SIGQUIT, &oldquit, NULL);
		close(fds[0]);
		for (size_t i = 0; i < s->nsetenv; i++)
			putenv((char *)s->setenv[i]);
		int in = open("/dev/null", O_RDONLY);
		if (in >= 0)
			dup2(in, 0);
		dup2(log, 1);
		dup2(log, 2);
		execvp(s->argv[0], s->argv);
		int e = errno;
		if (write(fds[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	close(log);
	if (pid < 0) {
		err = -errno;
	} else {
		int e;
		ssize_t k;
		while ((k = read(fds[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
		while (waitpid(pid, &s->status, 0) < 0 && errno == EINTR)
			;
		s->seconds = now() - t0;
		if (k == sizeof(e))
			err = -e;
	}
	close(fds[0]);
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	return err;
}

char *la_spawn_log(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t n = 0, cap = 4096;
	char *buf = la_xmalloc(cap + 1);
	ssize_t k;
	while ((k = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)k;
		if (n == cap) {
			cap *= 2;
			buf = la_xrealloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[n] = 0;
	return buf;
}

char *la_spawn_last_line(const char *log)
{
	if (!log)
		return NULL;
	size_t n = strlen(log);
	while (n && (log[n - 1] == '\n' || log[n - 1] == ' '))
		n--;
	size_t b = n;
	while (b && log[b - 1] != '\n')
		b--;
	return n > b ? strndup(log + b, n - b) : NULL;
}
