/* target.c: what /proc says about a running process `snapshot` is asked to
 * signal: whether it exists and is ours, whether the agent is loaded in it
 * (libleakagent.so and the beacon memfd the agent maps:
 * "/memfd:leakagent:<full-sig>:<delta-sig>:<output template> (deleted)"),
 * whether it catches a signal, whether it is stopped. Only reads /proc.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"

#define BEACON "/memfd:leakagent:"

static char *proc_path(long pid, const char *what)
{
	return la_xasprintf("/proc/%ld/%s", pid, what);
}

static char *status_field(const char *dir, const char *key);

/* The /proc directory that describes pid: /proc/PID, unless its main thread
 * has called pthread_exit while others run on. That leaves the leader a
 * zombie whose maps and exe are empty and whose state is Z; a live thread's
 * directory (/proc/PID/task/TID) tells the truth. */
static char *live_dir(long pid)
{
	char *dir = proc_path(pid, ""), *state = status_field(dir, "State:");
	bool zombie = state && (state[0] == 'Z' || state[0] == 'X');
	free(state);
	if (!zombie)
		return dir;
	char *tasks = proc_path(pid, "task");
	DIR *d = opendir(tasks);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char *t = la_xasprintf("%s/%s/", tasks, e->d_name);
		state = status_field(t, "State:");
		bool live = state && state[0] != 'Z' && state[0] != 'X';
		free(state);
		if (live) {
			free(dir);
			dir = t;
			break;
		}
		free(t);
	}
	if (d)
		closedir(d);
	free(tasks);
	return dir;
}

/* The kernel shows a newline in a mapped file's name as \012. */
static char *unescape_maps(const char *s, size_t n)
{
	char *d = la_xmalloc(n + 1), *o = d;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 4 <= n && !strncmp(s + i, "\\012", 4)) {
			*o++ = '\n';
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return d;
}

static int parse_beacon(const char *name, struct la_target *t)
{
	char *end;
	long full = strtol(name, &end, 10);
	if (end == name || *end != ':')
		return -1;
	const char *p = end + 1;
	long delta = strtol(p, &end, 10);
	if (end == p || *end != ':' || full < 0 || full > 64 || delta < 0 || delta > 64)
		return -1;
	t->sig_full = (int)full;
	t->sig_delta = (int)delta;
	t->tmpl = la_xstrdup(end + 1);
	t->beacon = true;
	return 0;
}

/* The mapped file's path: everything after the fifth field of a maps line. */
static const char *map_path(const char *line)
{
	const char *p = line;
	for (int field = 0; field < 5; field++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		while (*p == ' ')
			p++;
	}
	return p;
}

static void read_maps(FILE *f, struct la_target *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		const char *path = map_path(line);
		if (!path || !*path)
			continue;
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (!strncmp(base, "libleakagent.so", 15))
			t->agent_lib = true;
		if (t->beacon || strncmp(path, BEACON, strlen(BEACON)) != 0)
			continue;
		const char *name = path + strlen(BEACON);
		size_t n = strlen(name);
		if (n >= 10 && !strcmp(name + n - 10, " (deleted)"))
			n -= 10;
		char *s = unescape_maps(name, n);
		if (parse_beacon(s, t) < 0)
			t->bad_beacon = true;
		free(s);
	}
	free(line);
}

static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? la_xasprintf("%s (uid %u)", pw->pw_name, (unsigned)uid)
		  : la_xasprintf("uid %u", (unsigned)uid);
}

/* A field of the status file in a /proc directory ("SigCgt:", "State:"),
 * or NULL. */
static char *status_field(const char *dir, const char *key)
{
	char *path = la_xasprintf("%sstatus", dir), *line = NULL, *val = NULL;
	size_t cap = 0, kl = strlen(key);
	FILE *f = fopen(path, "re");
	free(path);
	while (f && getline(&line, &cap, f) > 0) {
		if (strncmp(line, key, kl) != 0)
			continue;
		char *v = line + kl;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = 0;
		val = la_xstrdup(v);
		break;
	}
	free(line);
	if (f)
		fclose(f);
	return val;
}

int la_target_open(long pid, struct la_target *t)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->what = la_xasprintf("pid %ld", pid);
	char *dir = proc_path(pid, ""), *p;
	struct stat st;
	if (stat(dir, &st) < 0) {
		free(dir);
		la_error(t->what, "ps or pgrep shows the pids of running programs",
			 "no such process");
		return -1;
	}
	free(dir);
	t->dir = live_dir(pid);
	p = proc_path(pid, "comm");
	FILE *f = fopen(p, "re");
	free(p);
	char comm[64] = "";
	if (f && fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = 0;
	if (f)
		fclose(f);
	if (*comm) {
		free(t->what);
		t->what = la_xasprintf("pid %ld (%s)", pid, comm);
	}
	char *state = status_field(t->dir, "State:");
	if (state && (state[0] == 'Z' || state[0] == 'X')) {
		la_error(t->what, NULL, "the process has exited (a zombie, not yet reaped by its "
			 "parent)");
		free(state);
		return -1;
	}
	free(state);
	if (st.st_uid != geteuid() && geteuid() != 0) {
		char *u = user_name(st.st_uid), *hint = la_xasprintf(
			"run leakagent as that user: sudo -u '#%u' leakagent snapshot %ld",
			(unsigned)st.st_uid, pid);
		la_error(t->what, hint, "the process belongs to %s: only its owner or root may "
			 "signal it and read its memory map", u);
		free(u);
		free(hint);
		return -1;
	}
	p = la_xasprintf("%smaps", t->dir);
	f = fopen(p, "re");
	free(p);
	if (!f) {
		la_error(t->what, NULL, "cannot read its memory map: %s", strerror(errno));
		return -1;
	}
	read_maps(f, t);
	fclose(f);
	char exe[4096];
	p = la_xasprintf("%sexe", t->dir);
	ssize_t n = readlink(p, exe, sizeof(exe) - 1);
	free(p);
	if (n > 0) {
		exe[n] = 0;
		if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
			exe[n - 10] = 0;
		const char *b = strrchr(exe, '/');
		t->exe_base = la_xstrdup(b ? b + 1 : exe);
	}
	return 0;
}

bool la_target_catches(const struct la_target *t, int sig)
{
	char *m = status_field(t->dir, "SigCgt:");
	if (!m)
		return false;
	unsigned long long mask = strtoull(m, NULL, 16);
	free(m);
	return sig >= 1 && sig <= 64 && (mask >> (sig - 1) & 1);
}

/* 1 stopped (SIGSTOP, a debugger), 0 running, -1 gone */
int la_target_state(const struct la_target *t)
{
	/* the process as a whole: the thread t->dir names may have ended */
	char *dir = live_dir(t->pid), *s = status_field(dir, "State:");
	free(dir);
	if (!s)
		return -1;
	int r = s[0] == 'Z' || s[0] == 'X' ? -1 : s[0] == 'T' || s[0] == 't';
	free(s);
	return r;
}
