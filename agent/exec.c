/* exec.c: programs started by exec and posix_spawn keep the agent. A child
 * started with the program's own environment inherits LD_PRELOAD anyway; one
 * started with an explicit environment (execve, execle, execvpe, fexecve,
 * posix_spawn[p]) gets LD_PRELOAD and LEAKAGENT_OPTIONS added when they are
 * missing, unless follow_children is off. Every way of starting a program
 * (also execv[p], execl[p], system, popen) passes on the signals the program
 * ignores (la_trigger_exec_begin). Runs in the program's thread, just
 * before it replaces itself (perhaps in a vfork child): nothing is allocated.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static LA_BIG char saved_options[4096];
static int have_options;

/* The functions wrapped here, found at start-up: a dlsym at exec time is
 * not async-signal-safe (a crash handler may exec) and frees the thread's
 * pending dlerror message. */
enum { R_EXECVE, R_EXECVPE, R_FEXECVE, R_EXECV, R_EXECVP, R_SYSTEM, R_POPEN, R_SPAWN, R_SPAWNP, R_COUNT };
static const char *const real_names[R_COUNT] = { "execve", "execvpe", "fexecve", "execv", "execvp",
	"system", "popen", "posix_spawn", "posix_spawnp" };
static void *real_fns[R_COUNT];

static void *real_fn(int i)
{
	return real_fns[i] ? real_fns[i] : dlsym(RTLD_NEXT, real_names[i]);
}

void la_exec_init(void)
{
	for (int i = 0; i < R_COUNT; i++)
		real_fns[i] = dlsym(RTLD_NEXT, real_names[i]);
	const char *o = getenv("LEAKAGENT_OPTIONS");
	if (o) {
		la_strlcpy(saved_options, o, sizeof(saved_options));
		have_options = 1;
	}
}

static const char *find(char *const *envp, const char *name, size_t len)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static int mentions_agent(const char *preload)
{
	const char *self = la_self_path();
	const char *base = strrchr(self, '/');
	base = base ? base + 1 : self;
	return preload && *base && strstr(preload, base) != NULL;
}

/* Bytes needed for a copy of envp with the agent added; 0 when nothing is
 * missing (or children are not followed). */
static size_t env_need(char *const *envp)
{
	if (!la_opt.follow_children || !la_self_path()[0])
		return 0;
	const char *preload = find(envp, "LD_PRELOAD", 10);
	int need_preload = !mentions_agent(preload);
	int need_options = have_options && !find(envp, "LEAKAGENT_OPTIONS", 17);
	if (!need_preload && !need_options)
		return 0;
	size_t n = 0;
	for (char *const *e = envp; e && *e; e++)
		n++;
	return (n + 3) * sizeof(char *) + strlen(la_self_path()) +
	       (preload ? strlen(preload) : 0) + strlen(saved_options) + 64;
}

/* Builds the copy in buf (env_need bytes): LD_PRELOAD with the agent first,
 * LEAKAGENT_OPTIONS as the program started with, then the rest. */
static char *const *env_build(char *const *envp, char *buf)
{
	const char *preload = find(envp, "LD_PRELOAD", 10);
	int need_preload = !mentions_agent(preload);
	int need_options = have_options && !find(envp, "LEAKAGENT_OPTIONS", 17);
	size_t n = 0, k = 0;
	for (char *const *e = envp; e && *e; e++)
		n++;
	char **out = (char **)buf;
	char *s = buf + (n + 3) * sizeof(char *);
	if (need_preload) {
		out[k++] = s;
		s += la_strlcpy(s, "LD_PRELOAD=", 12);
		s += la_strlcpy(s, la_self_path(), 4096);
		if (preload && *preload) {
			*s++ = ' ';
			s += la_strlcpy(s, preload, strlen(preload) + 1);
		}
		s++;
	}
	if (need_options) {
		out[k++] = s;
		s += la_strlcpy(s, "LEAKAGENT_OPTIONS=", 19);
		s += la_strlcpy(s, saved_options, sizeof(saved_options));
		s++;
	}
	for (char *const *e = envp; e && *e; e++)
		if (!need_preload || strncmp(*e, "LD_PRELOAD=", 11) != 0)
			out[k++] = *e;
	out[k] = NULL;
	return out;
}

/* The copy lives on the caller's stack: no mmap that a vfork child would
 * leave behind in its parent's address space. */
#define WITH_AGENT(envp, name)                                                       \
	size_t name##_bytes = env_need(envp);                                         \
	char name##_buf[name##_bytes ? name##_bytes : 1] __attribute__((aligned(8)));  \
	char *const *name = name##_bytes ? env_build(envp, name##_buf) : (envp)

#define NEXT(type, i) ((type)real_fn(i))

/* The call, with the signals the program ignores ignored for real around
 * it (see la_trigger_exec_begin); errno is the call's. */
#define AROUND_EXEC(call)                  \
	do {                               \
		la_trigger_exec_begin();   \
		__typeof__(call) rc_ = (call); \
		int errno_ = errno;        \
		la_trigger_exec_end();     \
		errno = errno_;            \
		return rc_;                \
	} while (0)

typedef int (*exec_fn)(const char *, char *const *, char *const *);

LA_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	WITH_AGENT(envp, env);
	AROUND_EXEC(NEXT(exec_fn, R_EXECVE)(path, argv, env));
}

LA_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	WITH_AGENT(envp, env);
	AROUND_EXEC(NEXT(exec_fn, R_EXECVPE)(file, argv, env));
}

LA_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	WITH_AGENT(envp, env);
	AROUND_EXEC(NEXT(int (*)(int, char *const *, char *const *), R_FEXECVE)(fd, argv, env));
}

/* Children that inherit the program's environment: only the signals. */
LA_EXPORT int execv(const char *path, char *const argv[])
{
	AROUND_EXEC(NEXT(int (*)(const char *, char *const *), R_EXECV)(path, argv));
}

LA_EXPORT int execvp(const char *file, char *const argv[])
{
	AROUND_EXEC(NEXT(int (*)(const char *, char *const *), R_EXECVP)(file, argv));
}

LA_EXPORT int system(const char *command)
{
	AROUND_EXEC(NEXT(int (*)(const char *), R_SYSTEM)(command));
}

LA_EXPORT FILE *popen(const char *command, const char *type)
{
	AROUND_EXEC(NEXT(FILE * (*)(const char *, const char *), R_POPEN)(command, type));
}

/* The argument list of execl, execlp and execle up to its NULL, as an argv
 * on the caller's stack; ap is left open after the NULL. */
#define ARGV_FROM_LIST(arg, argv)                                       \
	va_list ap;                                                     \
	size_t n_ = 1;                                                  \
	va_start(ap, arg);                                              \
	while (va_arg(ap, const char *))                                \
		n_++;                                                   \
	va_end(ap);                                                     \
	const char *argv[n_ + 1];                                       \
	argv[0] = arg;                                                  \
	va_start(ap, arg);                                              \
	for (size_t i_ = 1; i_ <= n_; i_++)                             \
		argv[i_] = va_arg(ap, const char *)

LA_EXPORT int execl(const char *path, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	va_end(ap);
	return execv(path, (char *const *)argv);
}

LA_EXPORT int execlp(const char *file, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	va_end(ap);
	return execvp(file, (char *const *)argv);
}

/* execle's environment follows the argument list's NULL. */
LA_EXPORT int execle(const char *path, const char *arg, ...)
{
	ARGV_FROM_LIST(arg, argv);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, (char *const *)argv, envp);
}

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const *, char *const *);

LA_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WITH_AGENT(envp, env);
	AROUND_EXEC(NEXT(spawn_fn, R_SPAWN)(pid, path, fa, attr, argv, env));
}

LA_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WITH_AGENT(envp, env);
	AROUND_EXEC(NEXT(spawn_fn, R_SPAWNP)(pid, file, fa, attr, argv, env));
}
