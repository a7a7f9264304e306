/* trigger.c: reports asked for while the program runs, and reports written
 * as it dies. Snapshot signals only wake the reporter thread (a futex word,
 * no descriptor a daemon could close); the thread, started with signals
 * blocked, writes the reports one at a time, coalescing requests that arrive
 * meanwhile. A signal that kills the program by its default action (SIGTERM,
 * SIGINT, SIGABRT, SIGSEGV, SIGPIPE...) and a call to _exit write the exit
 * report first, then let the program die as it would have.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

pid_t la_pid;
pid_t la_reporter_tid;
LA_TLS int la_pending_fatal;
volatile int la_fatal_signal;

static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static void (*real__exit)(int) __attribute__((noreturn));
static int *nptl_nthreads; /* glibc's count of threads (GLIBC_PRIVATE), or NULL */

/* MODE_ONESHOT: the program's handler, set with SA_RESETHAND, on a signal
 * whose death report was armed; the agent does the reset itself, arming
 * the report again, so the death its handler then causes has its report */
enum { MODE_NONE, MODE_FULL, MODE_DELTA, MODE_FATAL, MODE_ONESHOT };
static unsigned char mode[NSIG];
static unsigned char fatal_armed[NSIG]; /* a death report was armed at start */
/* What the program asked for on signals the agent handles: sigaction and
 * signal answer with this view, and snapshot signals pass on to it. */
static LA_BIG struct sigaction prog_act[NSIG];
static volatile int prog_set[NSIG];

/* The handler's union member holds SIG_DFL or SIG_IGN whatever SA_SIGINFO
 * says: the kernel reads it so. */
static int is_default(const struct sigaction *a)
{
	return a->sa_handler == SIG_DFL;
}

static int is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

/* A handler the kernel would reset to the default action on delivery. */
static int is_oneshot(const struct sigaction *a)
{
	return (a->sa_flags & SA_RESETHAND) && is_handler(a);
}

void la_trigger_call_handler(const struct sigaction *a, int sig, siginfo_t *si, void *uc)
{
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		a->sa_handler(sig);
}

static int wake;                 /* futex word, bumped on every request */
static int named;                /* futex word: the reporter has named itself */
static int want_full, want_delta; /* requests not yet served */
static int exit_reported;

static void futex_wake(int *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Signal context: two atomic adds and a wake, then the program's handler. */
static void on_snapshot(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	__atomic_store_n(mode[sig] == MODE_FULL ? &want_full : &want_delta, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&wake, 1, __ATOMIC_RELEASE);
	futex_wake(&wake);
	errno = saved;
	if (!prog_set[sig])
		return;
	struct sigaction a = prog_act[sig];
	if (!is_handler(&a))
		return;
	if (a.sa_flags & SA_RESETHAND)
		prog_act[sig].sa_handler = SIG_DFL;
	la_trigger_call_handler(&a, sig, si, uc);
}

/* The exit report, once per process, whoever asks first (exit, _exit, a
 * fatal signal). */
void la_exit_report(void)
{
	if (!la_opt.report_at_exit || getpid() != la_pid)
		return; /* a vfork child shares our memory: it is not the process we track */
	if (la_guard)
		return; /* _exit from a handler that interrupted the agent, which may
			 * hold a lock the report needs: no report, no hang */
	if (__atomic_exchange_n(&exit_reported, 1, __ATOMIC_ACQ_REL) == 0)
		la_report("exit", 0);
}

/* The exit report of a process dying of sig. */
static void report_death(int sig)
{
	if (getpid() == la_pid) /* not a vfork child, which shares our memory */
		la_fatal_signal = sig;
	la_exit_report();
}

void la_trigger_set_bare(int sig, void (*disposition)(int))
{
	struct sigaction a;
	memset(&a, 0, sizeof(a));
	a.sa_handler = disposition;
	la_trigger_real_sigaction(sig, &a, NULL);
}

void la_trigger_reraise(int sig)
{
	la_trigger_set_bare(sig, SIG_DFL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static void die(int sig)
{
	report_death(sig);
	la_trigger_reraise(sig);
}

/* A fault the kernel raised at an instruction (a bad address, a division by
 * zero, an illegal instruction): returning runs the instruction again. */
static int is_fault(int sig, const siginfo_t *si)
{
	return si && si->si_code > 0 &&
	       (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL);
}

/* Inside the agent this thread may hold one of its locks, which the report
 * needs: finish the agent's work first (la_unguard calls la_fatal_resume).
 * A fault is different: the report is written (unless the fault is the
 * agent's own, which may hold its locks), the default action restored, the
 * same signal with the fault's siginfo queued to this thread, and the
 * handler returns: the signal is delivered as it does, before the
 * instruction runs again, and the program dies of it with its own
 * registers and fault address in the core, as without the agent. Counting
 * on the instruction to fault again is not enough: the report maps memory
 * and the other threads run meanwhile, so a page a use-after-free read had
 * found unmapped may be mapped again (the report's own mappings land in
 * the hole a freed big block leaves), and the program went on. */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (is_fault(sig, si)) {
		int saved = errno;
		if (!la_guard)
			report_death(sig);
		la_trigger_set_bare(sig, SIG_DFL);
		siginfo_t again = *si; /* blocked until the handler returns */
		syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, &again);
		errno = saved;
		return;
	}
	if (la_guard) {
		la_pending_fatal = sig;
		return;
	}
	die(sig);
}

static void install(int sig, const struct sigaction *like);

/* What SA_RESETHAND does on delivery, but to the death report, not to
 * the bare default action; then the program's handler. A handler that
 * raises the signal again (node, crash handlers) or a later one then
 * meets on_fatal, as it would have met the default action. */
static unsigned char oneshot_taken[NSIG]; /* the one delivery happened */

static void on_oneshot(int sig, siginfo_t *si, void *uc)
{
	if (__atomic_exchange_n(&oneshot_taken[sig], 1, __ATOMIC_ACQ_REL)) {
		/* a second thread got it before the first reset it: it meets
		 * what the kernel would have put back by now */
		on_fatal(sig, si, uc);
		return;
	}
	struct sigaction a = prog_act[sig];
	int saved = errno;
	prog_set[sig] = 0;
	if (la_guard) {
		/* inside the agent, a death would wait for it (la_pending_fatal)
		 * while the handler's raise returned: the bare reset, no report */
		mode[sig] = MODE_NONE;
		la_trigger_set_bare(sig, SIG_DFL);
	} else {
		mode[sig] = MODE_FATAL;
		install(sig, NULL);
	}
	errno = saved;
	la_trigger_call_handler(&a, sig, si, uc);
}

void la_fatal_resume(void)
{
	int sig = la_pending_fatal;
	la_pending_fatal = 0;
	die(sig);
}

int la_trigger_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction)
		real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	return real_sigaction ? real_sigaction(sig, act, old) : -1;
}

static void install(int sig, const struct sigaction *like)
{
	struct sigaction a;
	memset(&a, 0, sizeof(a));
	if (like) { /* keep the program's mask and flags for its handler's sake */
		a.sa_mask = like->sa_mask;
		a.sa_flags = like->sa_flags & ~SA_RESETHAND;
	} else {
		sigemptyset(&a.sa_mask);
		a.sa_flags = SA_RESTART;
	}
	a.sa_flags |= SA_SIGINFO;
	a.sa_sigaction = mode[sig] == MODE_FATAL ? on_fatal : mode[sig] == MODE_ONESHOT ? on_oneshot : on_snapshot;
	real_sigaction(sig, &a, NULL);
}

static void *reporter(void *arg)
{
	(void)arg;
	la_reporter_tid = (pid_t)syscall(SYS_gettid);
	/* Its own name with prctl: pthread_setname_np on another thread formats
	 * the /proc path with sprintf, which maps libc's printf code (about
	 * 100 KiB of resident text) into programs that never print. */
	prctl(PR_SET_NAME, "leakagent", 0, 0, 0);
	__atomic_store_n(&named, 1, __ATOMIC_RELEASE);
	futex_wake(&named);
	for (;;) {
		int w = __atomic_load_n(&wake, __ATOMIC_ACQUIRE);
		/* requests that arrive while a report runs are served by one more */
		if (__atomic_exchange_n(&want_full, 0, __ATOMIC_ACQ_REL))
			la_report("signal", 0);
		if (__atomic_exchange_n(&want_delta, 0, __ATOMIC_ACQ_REL))
			la_report("delta", 1);
		if (__atomic_load_n(&wake, __ATOMIC_ACQUIRE) == w)
			syscall(SYS_futex, &wake, FUTEX_WAIT_PRIVATE, w, NULL, NULL, 0);
	}
	return NULL;
}

static void start_reporter(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits it */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	named = 0;
	if (pthread_create(&t, &attr, reporter, NULL) == 0) {
		/* glibc ends the process (exit(0)) when its count of threads drops
		 * to zero: after main's pthread_exit, when the last other thread
		 * ends. The reporter never ends, so it must not count, or such a
		 * program would never exit. Where the count is not exported, the
		 * program still never ends after main's pthread_exit. */
		if (nptl_nthreads)
			__atomic_fetch_sub(nptl_nthreads, 1, __ATOMIC_RELAXED);
		/* named before start-up goes on, as pthread_setname_np had it */
		while (!__atomic_load_n(&named, __ATOMIC_ACQUIRE))
			syscall(SYS_futex, &named, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	} else {
		la_warn("cannot start the snapshot thread: snapshots are off", NULL);
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* exec resets a handled signal to the default action and keeps an ignored
 * one ignored. Where the agent's handler stands in for a program's SIG_IGN,
 * what the program starts would get the default action, and die of a
 * signal it was meant to ignore. Around exec and posix_spawn (whose child
 * resets handled signals too) those signals are ignored for real, from the
 * first such call that begins to the last that ends, so that concurrent
 * calls do not put the handlers back under each other; an agent snapshot
 * asked for meanwhile is lost, the program sees what it asked. */
static la_lock_t exec_lock;
static int exec_depth; /* calls inside the window */

static int ignored_by_program(int sig)
{
	return (mode[sig] == MODE_FULL || mode[sig] == MODE_DELTA) && prog_set[sig] &&
	       prog_act[sig].sa_handler == SIG_IGN;
}

/* begin: SIG_IGN for real; end: the agent's handlers back */
static void exec_window(int begin)
{
	for (int sig = 1; real_sigaction && sig < NSIG; sig++) {
		if (!ignored_by_program(sig))
			continue;
		if (begin)
			la_trigger_set_bare(sig, SIG_IGN);
		else
			install(sig, &prog_act[sig]);
	}
	if (begin)
		la_world_exec_begin();
	else
		la_world_exec_end();
}

/* The lock is taken with every signal blocked: a handler that execs must
 * not wait for its own thread. A vfork child shares our memory but has
 * its own dispositions: it changes those and leaves the count alone. */
static void exec_edge(int begin)
{
	if (getpid() != la_pid) {
		exec_window(begin);
		return;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	la_lock(&exec_lock);
	if (begin ? exec_depth++ == 0 : --exec_depth == 0)
		exec_window(begin);
	la_unlock(&exec_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void la_trigger_exec_begin(void)
{
	exec_edge(1);
}

/* The exec failed, or posix_spawn returned. */
void la_trigger_exec_end(void)
{
	exec_edge(0);
}

static int snapshots_on(void)
{
	return mode[la_opt.signal_full] == MODE_FULL || mode[la_opt.signal_delta] == MODE_DELTA;
}

void la_trigger_init(void)
{
	/* the signals whose default action ends the program, but SIGTRAP and
	 * SIGSYS (debuggers', seccomp's), the profiling timers and the
	 * snapshot signals */
	static const int fatal[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGILL,  SIGABRT, SIGBUS,
				     SIGFPE,  SIGSEGV, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU,
				     SIGXFSZ };
	real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	real__exit = dlsym(RTLD_NEXT, "_exit");
	nptl_nthreads = dlsym(RTLD_DEFAULT, "__nptl_nthreads");
	la_pid = getpid();
	if (!real_sigaction)
		return;
	if (la_opt.signal_full && la_opt.signal_full == la_opt.signal_delta) {
		la_warn("signal_full and signal_delta are the same signal: delta snapshots are off",
			NULL);
		la_opt.signal_delta = 0;
	}
	if (la_opt.signal_full)
		mode[la_opt.signal_full] = MODE_FULL;
	if (la_opt.signal_delta)
		mode[la_opt.signal_delta] = MODE_DELTA;
	for (size_t i = 0; la_opt.report_on_signal && i < sizeof(fatal) / sizeof(*fatal); i++) {
		struct sigaction cur;
		if (mode[fatal[i]] == MODE_NONE && real_sigaction(fatal[i], NULL, &cur) == 0 &&
		    !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL)
			mode[fatal[i]] = fatal_armed[fatal[i]] = MODE_FATAL;
	}
	for (int sig = 1; sig < NSIG; sig++) {
		if (mode[sig] == MODE_NONE)
			continue;
		/* A snapshot signal the program inherited ignored (or had set by an
		 * earlier constructor) keeps that as the program's view. */
		struct sigaction cur;
		int kept = mode[sig] != MODE_FATAL && real_sigaction(sig, NULL, &cur) == 0 &&
			   ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL);
		if (kept) {
			prog_act[sig] = cur;
			prog_set[sig] = 1;
		}
		install(sig, kept ? &cur : NULL);
	}
	if (snapshots_on())
		start_reporter();
}

void la_trigger_after_fork(void)
{
	la_pid = getpid();
	la_lock_init(&exec_lock);
	if (exec_depth) { /* forked inside another thread's window */
		exec_depth = 0;
		exec_window(0);
	}
	exit_reported = 0;
	want_full = want_delta = 0;
	if (snapshots_on())
		start_reporter();
}

/* --- the program's view of the signals the agent handles ---------------- */

/* A death signal set to its default action, or to a handler SA_RESETHAND
 * brings the default back for: the death report (again) armed. */
static void arm_death(int sig, const struct sigaction *act)
{
	prog_set[sig] = 0;
	mode[sig] = MODE_FATAL;
	if (is_oneshot(act)) {
		prog_act[sig] = *act;
		prog_set[sig] = 1;
		oneshot_taken[sig] = 0;
		mode[sig] = MODE_ONESHOT;
	}
	install(sig, mode[sig] == MODE_ONESHOT ? act : NULL);
}

LA_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real_sigaction)
		real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	if (la_world_program_action(sig, act, old) == 0)
		return 0; /* the stop signal, once its handler is in */
	if (sig > 0 && sig < NSIG && mode[sig] == MODE_NONE && fatal_armed[sig] && act &&
	    (is_default(act) || is_oneshot(act))) {
		/* the default action back (a crash handler restoring what it
		 * found before it re-raises): the death report is armed again;
		 * the same for a handler SA_RESETHAND would bring it back for */
		if (old && real_sigaction(sig, NULL, old) != 0)
			return -1;
		arm_death(sig, act);
		return 0;
	}
	if (sig <= 0 || sig >= NSIG || mode[sig] == MODE_NONE)
		return real_sigaction(sig, act, old);
	if (old) {
		if (prog_set[sig]) {
			*old = prog_act[sig];
		} else {
			memset(old, 0, sizeof(*old));
			old->sa_handler = SIG_DFL;
		}
	}
	if (!act)
		return 0;
	if (mode[sig] == MODE_FATAL || mode[sig] == MODE_ONESHOT) {
		if (is_default(act) || is_oneshot(act)) {
			arm_death(sig, act);
			return 0;
		}
		prog_set[sig] = 0;
		mode[sig] = MODE_NONE; /* the program takes the signal over */
		return real_sigaction(sig, act, NULL);
	}
	prog_act[sig] = *act;
	prog_set[sig] = 1;
	if (__atomic_load_n(&exec_depth, __ATOMIC_ACQUIRE) && ignored_by_program(sig))
		la_trigger_set_bare(sig, SIG_IGN); /* inside the exec window */
	else
		install(sig, act);
	return 0;
}

static sighandler_t set_handler(int sig, sighandler_t handler, int flags)
{
	struct sigaction a, old;
	memset(&a, 0, sizeof(a));
	a.sa_handler = handler;
	a.sa_flags = flags;
	sigemptyset(&a.sa_mask);
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler; /* the union: sa_sigaction's value too */
}

/* glibc's signal() and bsd_signal() have BSD semantics */
LA_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESTART);
}

LA_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) __attribute__((alias("signal"), copy(signal)));

/* System V semantics: what signal() is in a program built with a strict
 * standard (-std=c11: glibc maps it to __sysv_signal) */
LA_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER);
}

LA_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) __attribute__((alias("sysv_signal")));

LA_EXPORT int sigignore(int sig)
{
	return set_handler(sig, SIG_IGN, 0) == SIG_ERR ? -1 : 0;
}

/* System V's sigset: SIG_HOLD blocks the signal, anything else sets it
 * (no flags) and unblocks it; the answer is SIG_HOLD when the signal was
 * blocked, the action before otherwise. */
LA_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
	sigset_t one, before;
	struct sigaction old;
	if (sigemptyset(&one) < 0 || sigaddset(&one, sig) < 0)
		return SIG_ERR;
	if (disp == SIG_HOLD) {
		if (pthread_sigmask(SIG_BLOCK, &one, &before) != 0 || sigaction(sig, NULL, &old) < 0)
			return SIG_ERR;
		return sigismember(&before, sig) ? SIG_HOLD : old.sa_handler;
	}
	sighandler_t prev = set_handler(sig, disp, 0);
	if (prev == SIG_ERR || pthread_sigmask(SIG_UNBLOCK, &one, &before) != 0)
		return SIG_ERR;
	return sigismember(&before, sig) ? SIG_HOLD : prev;
}

LA_EXPORT void _exit(int status)
{
	if (la_opt.report_on__exit && la_ready)
		la_exit_report();
	if (!real__exit)
		real__exit = dlsym(RTLD_NEXT, "_exit");
	real__exit(status);
}

LA_EXPORT void _Exit(int status) __attribute__((alias("_exit")));
void la_agent__exit(int status) __attribute__((alias("_exit"), copy(_exit)));
