/* run.c: starting a program under the agent: find libleakagent.so next to
 * this executable (build tree or installed tree), prepend it to LD_PRELOAD,
 * point the agent's output at a private directory, wait for the program and
 * collect the reports it and its children wrote.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"

#ifndef LA_AGENT_INSTALLED
#define LA_AGENT_INSTALLED "/usr/local/lib/leakagent/libleakagent.so"
#endif
#ifndef LA_AGENT_RELATIVE
#define LA_AGENT_RELATIVE "../lib/leakagent/libleakagent.so"
#endif

static char *agent_path(void)
{
	const char *env = getenv("LEAKAGENT_AGENT");
	if (env && *env)
		return access(env, R_OK) == 0 ? la_xstrdup(env) : NULL;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		const char *dir = dirname(self);
		/* build tree first: build/collector/leakagent beside build/agent/ */
		const char *rel[] = { "../agent/libleakagent.so", LA_AGENT_RELATIVE };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			char *p = la_xasprintf("%s/%s", dir, rel[i]);
			char *abs = realpath(p, NULL);
			free(p);
			if (abs && access(abs, R_OK) == 0)
				return abs;
			free(abs);
		}
	}
	return access(LA_AGENT_INSTALLED, R_OK) == 0 ? la_xstrdup(LA_AGENT_INSTALLED) : NULL;
}

static int is_report(const char *name)
{
	size_t n = strlen(name);
	/* finished reports, and unfinished ones (".name.tmpN") of a process that
	 * died while writing: the reader flags those as truncated */
	return strncmp(name, "leakagent.", 10) == 0 ? n > 4 && strcmp(name + n - 4, ".raw") == 0
						   : strncmp(name, ".leakagent.", 11) == 0;
}

static void collect(struct la_run_result *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	size_t cap = 0;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (is_report(e->d_name)) {
			LA_GROW(r->reports, r->nreports, cap);
			r->reports[r->nreports++] = la_xasprintf("%s/%s", r->dir, e->d_name);
		}
	closedir(d);
}

static void child(char **argv, const char *agent, const char *dir, int depth, char *const *env,
		  int errfd)
{
	for (size_t i = 0; env && env[i]; i++) {
		if (strchr(env[i], '='))
			putenv(env[i]);
		else
			unsetenv(env[i]);
	}
	const char *pre = getenv("LD_PRELOAD"), *opts = getenv("LEAKAGENT_OPTIONS");
	char *p = pre && *pre ? la_xasprintf("%s:%s", agent, pre) : la_xstrdup(agent);
	char *o = la_xasprintf("%s%soutput=%s/leakagent.%%e.%%p.%%n.raw", opts && *opts ? opts : "",
			       opts && *opts ? ":" : "", dir);
	if (depth > 0) {
		char *od = la_xasprintf("%s:depth=%d", o, depth);
		o = od;
	}
	setenv("LD_PRELOAD", p, 1);
	setenv("LEAKAGENT_OPTIONS", o, 1);
	execvp(argv[0], argv);
	int err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

int la_run(char **argv, int depth, char *const *env, struct la_run_result *r)
{
	memset(r, 0, sizeof(*r));
	char *agent = agent_path();
	if (!agent) {
		la_error("libleakagent.so", "set LEAKAGENT_AGENT=/path/to/libleakagent.so",
			 "not found beside %s nor in %s", "the leakagent command",
			 LA_AGENT_INSTALLED);
		return -1;
	}
	r->dir = la_private_dir("leakagent");
	if (!r->dir)
		return -1;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		la_error(argv[0], NULL, "cannot start: %s", strerror(errno));
		return -1;
	}
	/* like system(): ^C and ^\ go to the program; we stay to report */
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldint, oldquit;
	sigaction(SIGINT, &ign, &oldint);
	sigaction(SIGQUIT, &ign, &oldquit);
	pid_t pid = fork();
	r->pid = pid > 0 ? pid : 0;
	if (pid == 0) {
		sigaction(SIGINT, &oldint, NULL);
		sigaction(SIGQUIT, &oldquit, NULL);
		close(fds[0]);
		child(argv, agent, r->dir, depth, env, fds[1]);
	}
	close(fds[1]);
	int rc = 0;
	if (pid < 0) {
		la_error(argv[0], NULL, "cannot start: %s", strerror(errno));
		rc = -1;
	} else {
		int err;
		ssize_t k;
		while ((k = read(fds[0], &err, sizeof(err))) < 0 && errno == EINTR)
			;
		while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
			;
		if (k == sizeof(err)) {
			la_error(argv[0], NULL, "cannot run: %s", strerror(err));
			rc = -1;
		}
	}
	close(fds[0]);
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	free(agent);
	if (rc == 0)
		collect(r);
	return rc;
}

void la_run_cleanup(struct la_run_result *r)
{
	if (!r->dir)
		return;
	/* every file, including any a child left after we listed them */
	la_remove_dir(r->dir);
}
