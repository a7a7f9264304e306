/* snapshot.c: `leakagent snapshot PID`: asks the agent in a running process
 * for a report and waits for it. The agent's beacon (target.c) names the
 * trigger signals and the output template; the new report is the first file
 * matching the template that was not there before the signal, has the
 * trigger asked for and was taken after the signal. The agent renames a
 * report into place only once it is complete, so a matching name is a whole
 * file. A signal the process does not catch would kill it: never sent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"

struct names {
	char **v;
	size_t n, cap;
};

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* Does name match the file part of the template? %p is the pid, %e the
 * executable's basename (anything when /proc would not tell), %n a report
 * number, %t a trigger word; %% and %<other> stand for that character, as
 * the agent's writer expands them. */
static bool match(const char *pat, const char *name, const struct la_target *t)
{
	static const char *const triggers[] = { "exit", "signal", "delta", "api" };
	char pid[24];
	if (!*pat)
		return !*name;
	if (*pat != '%' || !pat[1])
		return *pat == *name && match(pat + 1, name + 1, t);
	const char *rest = pat + 2;
	size_t len = strlen(name);
	switch (pat[1]) {
	case 'p':
		snprintf(pid, sizeof(pid), "%ld", t->pid);
		return !strncmp(name, pid, strlen(pid)) && match(rest, name + strlen(pid), t);
	case 'e':
		if (t->exe_base)
			return !strncmp(name, t->exe_base, strlen(t->exe_base)) &&
			       match(rest, name + strlen(t->exe_base), t);
		for (size_t k = 1; k <= len; k++)
			if (match(rest, name + k, t))
				return true;
		return false;
	case 'n':
		for (size_t k = 1; k <= len && digits(name, k); k++)
			if (match(rest, name + k, t))
				return true;
		return false;
	case 't':
		for (size_t i = 0; i < 4; i++)
			if (!strncmp(name, triggers[i], strlen(triggers[i])) &&
			    match(rest, name + strlen(triggers[i]), t))
				return true;
		return false;
	default:
		return pat[1] == *name && match(rest, name + 1, t);
	}
}

/* The directory part of the template, expanded; NULL after la_error when it
 * changes from report to report. */
static char *template_dir(const struct la_target *t, const char *tmpl, const char *slash)
{
	size_t cap = (size_t)(slash - tmpl) + 4096, n = 0;
	char *d = la_xmalloc(cap);
	for (const char *p = tmpl; p < slash; p++) {
		if (*p != '%' || p + 1 == slash) {
			d[n++] = *p;
		} else if (p[1] == 'p') {
			n += (size_t)snprintf(d + n, cap - n, "%ld", t->pid);
			p++;
		} else if (p[1] == 'e' && t->exe_base) {
			n += (size_t)snprintf(d + n, cap - n, "%s", t->exe_base);
			p++;
		} else if (p[1] == 'e' || p[1] == 'n' || p[1] == 't') {
			la_error(t->what, "name a fixed directory in LEAKAGENT_OPTIONS=output=...",
				 "its report directory changes from report to report (%%%c in '%s'): "
				 "snapshot cannot tell where to look", p[1], tmpl);
			free(d);
			return NULL;
		} else {
			d[n++] = *++p;
		}
		if (n + 64 > cap)
			d = la_xrealloc(d, cap *= 2);
	}
	d[n] = 0;
	return d;
}

static int list(const char *dir, const char *pat, const struct la_target *t, struct names *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)))
		if (match(pat, e->d_name, t)) {
			LA_GROW(out->v, out->n, out->cap);
			out->v[out->n++] = la_xstrdup(e->d_name);
		}
	closedir(d);
	return 0;
}

static bool listed(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

/* Is path a report of this trigger taken at or after `after`? Reads only
 * up to its t line, which follows the header and the command line. */
static bool wanted(const char *path, const char *trigger, const struct timespec *after)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, trig[32];
	size_t cap = 0;
	unsigned long long seq, sec, nsec;
	bool ok = false;
	while (f && getline(&line, &cap, f) > 0) {
		if (line[0] != 't' && line[0] != 'p' && line[0] != 'x' && line[0] != 'a' &&
		    line[0] != 'L')
			break; /* past the t line: not a report of ours */
		if (sscanf(line, "t %31s %llx %llx %llx", trig, &seq, &sec, &nsec) == 4) {
			ok = !strcmp(trig, trigger) &&
			     ((long long)sec > (long long)after->tv_sec ||
			      ((long long)sec == (long long)after->tv_sec &&
			       (long long)nsec >= (long long)after->tv_nsec));
			break;
		}
	}
	free(line);
	if (f)
		fclose(f);
	return ok;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The trigger signal of this target, or 0 after la_error. */
static int trigger_signal(const struct la_target *t, bool delta)
{
	const char *kind = delta ? "delta" : "full";
	int sig = delta ? t->sig_delta : t->sig_full;
	if (!t->beacon && t->agent_lib)
		la_error(t->what, "send the agent's signal yourself (kill -USR1 PID) and read the "
			 "file with leakagent report",
			 "its agent does not publish where it writes reports (an agent older than "
			 "this leakagent)");
	else if (!t->beacon)
		la_error(t->what, "start the program with LD_PRELOAD=libleakagent.so, or under "
			 "leakagent run",
			 t->bad_beacon ? "its leakagent beacon cannot be read"
				       : "the leak agent is not loaded in it");
	else if (!sig)
		la_error(t->what, delta ? "restart it without signal_delta=0 in LEAKAGENT_OPTIONS"
					: "restart it without signal_full=0 in LEAKAGENT_OPTIONS",
			 "its agent has the %s snapshot signal turned off", kind);
	else if (!*t->tmpl)
		la_error(t->what, "use a shorter LEAKAGENT_OPTIONS=output=... (at most about 200 "
			 "characters), or send the signal yourself and find the report",
			 "its output template was too long for the agent to publish");
	else if (t->tmpl[0] != '/')
		la_error(t->what, NULL, "its output template '%s' is not an absolute path", t->tmpl);
	else if (!la_target_catches(t, sig))
		la_error(t->what, "the program may have reset the signal's handler in a way the "
			 "agent could not see",
			 "it does not catch signal %d (%s): sending it would kill the process, "
			 "so it was not sent", sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	else
		return sig;
	return 0;
}

int la_snapshot(long pid, bool delta, double wait, char **path)
{
	struct la_target t;
	struct names before = { 0 };
	*path = NULL;
	if (la_target_open(pid, &t) < 0)
		return -1;
	int sig = trigger_signal(&t, delta);
	if (!sig)
		return -1;
	const char *slash = strrchr(t.tmpl, '/'), *pat = slash + 1;
	char *dir = template_dir(&t, t.tmpl, slash);
	if (!dir)
		return -1;
	if (!*dir)
		dir = la_xstrdup("/");
	if (list(dir, pat, &t, &before) < 0) {
		la_error(dir, "run leakagent as the program's user", "cannot list the report "
			 "directory: %s", strerror(errno));
		return -1;
	}
	if (!strstr(pat, "%n") && before.n) {
		la_error(t.what, "put %n in LEAKAGENT_OPTIONS=output=... so every report has its "
			 "own name", "its report %s/%s already exists and the agent never replaces "
			 "one", dir, before.v[0]);
		return -1;
	}
	if (la_target_state(&t) == 1)
		la_warning(t.what, "the process is stopped: it writes the report once it "
			   "continues (kill -CONT %ld)", pid);
	struct timespec sent;
	clock_gettime(CLOCK_REALTIME, &sent);
	if (kill((pid_t)pid, sig) < 0) {
		la_error(t.what, NULL, "cannot send it signal %d: %s", sig, strerror(errno));
		return -1;
	}
	const char *trigger = delta ? "delta" : "signal";
	double end = now() + wait, nap = 0.01;
	for (;;) {
		bool gone = la_target_state(&t) < 0;
		struct names cur = { 0 };
		list(dir, pat, &t, &cur);
		for (size_t i = 0; i < cur.n && !*path; i++) {
			char *p = la_xasprintf("%s%s%s", dir, dir[1] ? "/" : "", cur.v[i]);
			if (!listed(&before, cur.v[i]) && wanted(p, trigger, &sent))
				*path = p;
			else
				free(p);
		}
		for (size_t i = 0; i < cur.n; i++)
			free(cur.v[i]);
		free(cur.v);
		if (*path)
			return 0;
		if (gone) {
			char *hint = la_xasprintf("its exit report, if it wrote one, is in %s", dir);
			la_error(t.what, hint, "the process exited before writing the snapshot");
			free(hint);
			return -1;
		}
		if (now() >= end)
			break;
		struct timespec ts = { 0, (long)(nap * 1e9) };
		nanosleep(&ts, NULL);
		if (nap < 0.1)
			nap *= 2;
	}
	char *hint = la_xasprintf("it may be stopped, very busy or blocking signal %d in every "
				  "thread; a report written later appears in %s (--wait SECONDS "
				  "waits longer)", sig, dir);
	la_error(t.what, hint, "no %s report appeared within %g seconds", trigger, wait);
	free(hint);
	return 1;
}
