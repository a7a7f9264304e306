/* world.c: stops every other thread of the process for the scan, without
 * ptrace: each gets a real-time signal whose handler saves its registers and
 * parks on a futex. Runs on the reporting thread while it holds all table
 * locks: no malloc, no stdio, no lock that a parked thread might hold; the
 * thread list comes from /proc/self/task through raw getdents64. It also
 * keeps that signal out of the program's way: the program's own action for
 * it, and sigwait and its kin, which must never hand ours to the program.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "agent.h"

#define MAX_ROUNDS 32 /* re-listings; a thread that keeps spawning can't hold us */

/* Slots live in one mapping that is never unmapped, so a handler that runs
 * late (its signal was blocked) never writes into freed memory. */
static struct la_thread *slots;
static struct la_thread self_slot;
/* The handler parks only for the current epoch: a signal that arrives after
 * its stop was over (it was blocked, or the thread was slow) sees a stale
 * epoch in its si_value and returns at once. */
static volatile int stop_epoch;   /* epoch being stopped; 0 = none */
static volatile int release_word; /* set to the epoch to release it */
static volatile int parked_count; /* futex the stopper waits on */
static volatile int inside;       /* handlers between entry and exit */
static int installed_sig;
/* The program's action for the stop signal, which it sees and gets: what it
 * had when the handler went in, then what it sets (sigaction and signal
 * come here once the handler is installed, so a program that resets every
 * disposition never puts SIG_DFL under the next stop). */
static struct sigaction prog_action;

static long futex(volatile int *w, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return (uint64_t)clock_ns(CLOCK_MONOTONIC);
}

/* The machine context as words (general registers, flags, the fp-state
 * pointer) plus the vector registers, which compilers use to copy pointers. */
static void save_context(struct la_thread *t, const ucontext_t *uc)
{
	const uintptr_t *w = (const uintptr_t *)&uc->uc_mcontext;
	int n = (int)(sizeof(uc->uc_mcontext) / sizeof(uintptr_t));
	if (n > LA_NREGS)
		n = LA_NREGS;
	for (int i = 0; i < n; i++)
		t->regs[i] = w[i];
#if defined(__x86_64__)
	t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	if (uc->uc_mcontext.fpregs)
		for (int i = 0; i < 16 && n + 2 <= LA_NREGS; i++) {
			memcpy(&t->regs[n], &uc->uc_mcontext.fpregs->_xmm[i], 16);
			n += 2;
		}
#elif defined(__aarch64__)
	t->sp = (uintptr_t)uc->uc_mcontext.sp;
#else
	t->sp = 0; /* unknown: the whole stack mapping is scanned */
#endif
	t->nregs = n;
}

/* The agent's stop signals carry this in si_errno (rt_tgsigqueueinfo sends
 * the siginfo as given): a program's own sigqueue(getpid(), 40, small value)
 * looks like ours by code, pid and value alone, and would be swallowed. */
#define STOP_TAG 0x4c41

static int is_ours(const siginfo_t *si)
{
	return si->si_code == SI_QUEUE && si->si_errno == STOP_TAG && si->si_pid == getpid() &&
	       (unsigned)(uintptr_t)si->si_value.sival_ptr < LA_MAX_THREADS;
}

/* A sleep the stop signal cut short, with EINTR, goes on where that is
 * exact: the system call the stopper saw this thread in (/proc), still in
 * its registers (same pc, stack pointer and arguments), just back with
 * -EINTR, one of: nanosleep and clock_nanosleep (absolute, or relative
 * with a rem), pause, sigsuspend, select, pselect6, ppoll (the kernel
 * counts their timeouts down in place), poll and epoll_wait[_pwait]
 * without a timeout. A relative timeout is turned into a deadline when
 * the handler starts and written back, less the time parked, before the
 * call runs again, so the sleep ends when it would have. usleep (no rem)
 * and poll/epoll_wait with a timeout keep EINTR: running them again would
 * lengthen them.
 * Without the agent, a signal of the program's that came meanwhile ends
 * the sleep; so no restart when one is pending (it waits behind our
 * handler's mask), nor when any of the program's handlers blocks the stop
 * signal: such a handler taken with ours runs first, and ours then finds
 * the call's return as if nothing had run. Left: a signal that arrives
 * between the check and the handler's return. */
struct cut_sleep {
	long nr;           /* the call to run again, -1 none */
	void *timeout;     /* where the kernel left the time left, or NULL */
	int timeval;       /* it is a struct timeval (select), else a timespec */
	clockid_t clock;
	int64_t deadline;  /* ns on clock */
};

static void cut_sleep_begin(const struct la_syscall *sc, const ucontext_t *uc, struct cut_sleep *r)
{
	r->nr = -1;
	r->timeout = NULL;
	r->timeval = 0;
	r->clock = CLOCK_MONOTONIC;
#if defined(__x86_64__)
	const greg_t *g = uc->uc_mcontext.gregs;
	const int arg[6] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };
	if (sc->nr < 0 || g[REG_RAX] != -EINTR || (uintptr_t)g[REG_RIP] != sc->pc ||
	    (uintptr_t)g[REG_RSP] != sc->sp)
		return;
	for (int i = 0; i < 6; i++)
		if ((uintptr_t)g[arg[i]] != sc->args[i])
			return;
	const unsigned char *insn = (const unsigned char *)sc->pc - 2;
	if (insn[0] != 0x0f || insn[1] != 0x05) /* syscall */
		return;
	switch (sc->nr) {
	case SYS_nanosleep: /* (req, rem) */
		if (!g[REG_RSI])
			return;
		r->timeout = (void *)g[REG_RSI];
		break;
	case SYS_clock_nanosleep: /* (clock, flags, req, rem) */
		if (!(g[REG_RSI] & TIMER_ABSTIME)) {
			if (!g[REG_R10])
				return;
			r->timeout = (void *)g[REG_R10];
			r->clock = (clockid_t)g[REG_RDI];
		}
		break;
	case SYS_select: /* (n, in, out, ex, timeval) */
		r->timeout = (void *)g[REG_R8];
		r->timeval = 1;
		break;
	case SYS_pselect6: /* (n, in, out, ex, timespec, mask) */
		r->timeout = (void *)g[REG_R8];
		break;
	case SYS_ppoll: /* (fds, n, timespec, mask, size) */
		r->timeout = (void *)g[REG_RDX];
		break;
	case SYS_pause:
	case SYS_rt_sigsuspend:
		break;
	case SYS_poll: /* (fds, n, timeout ms) */
		if ((int)g[REG_RDX] >= 0)
			return;
		break;
	case SYS_epoll_wait: /* (epfd, events, max, timeout ms[, mask]) */
	case SYS_epoll_pwait:
		if ((int)g[REG_R10] >= 0)
			return;
		break;
	default:
		return;
	}
	if (r->timeout) {
		int64_t left = r->timeval ? (int64_t)((struct timeval *)r->timeout)->tv_sec * 1000000000 +
						    ((struct timeval *)r->timeout)->tv_usec * 1000
					  : (int64_t)((struct timespec *)r->timeout)->tv_sec * 1000000000 +
						    ((struct timespec *)r->timeout)->tv_nsec;
		r->deadline = clock_ns(r->clock) + left;
	}
	r->nr = sc->nr;
#else
	(void)sc;
	(void)uc;
#endif
}

/* 1 when a signal of the program's may have run, or will run, in the
 * sleep's stead (see above). */
static int program_signal_near(void)
{
	sigset_t pending;
	if (sigpending(&pending) != 0)
		return 1;
	for (int s = 1; s < NSIG; s++) {
		if (s == installed_sig)
			continue;
		struct sigaction a;
		if (sigismember(&pending, s) == 1)
			return 1;
		if (la_trigger_real_sigaction(s, NULL, &a) == 0 && a.sa_handler != SIG_DFL &&
		    a.sa_handler != SIG_IGN && sigismember(&a.sa_mask, installed_sig) == 1)
			return 1;
	}
	return 0;
}

static void cut_sleep_finish(const struct cut_sleep *r, ucontext_t *uc)
{
#if defined(__x86_64__)
	if (r->nr < 0 || program_signal_near())
		return;
	greg_t *g = uc->uc_mcontext.gregs;
	if (r->timeout) {
		int64_t left = r->deadline - clock_ns(r->clock);
		if (left < 0)
			left = 0;
		if (r->timeval) {
			((struct timeval *)r->timeout)->tv_sec = left / 1000000000;
			((struct timeval *)r->timeout)->tv_usec = left % 1000000000 / 1000;
		} else {
			((struct timespec *)r->timeout)->tv_sec = left / 1000000000;
			((struct timespec *)r->timeout)->tv_nsec = left % 1000000000;
		}
	}
	if (r->nr == SYS_nanosleep)
		g[REG_RDI] = g[REG_RSI]; /* req: what rem says is left */
	else if (r->nr == SYS_clock_nanosleep && r->timeout)
		g[REG_RDX] = g[REG_R10];
	g[REG_RAX] = r->nr;
	g[REG_RIP] -= 2;
#else
	(void)r;
	(void)uc;
#endif
}

/* Saves the thread's context into its slot and waits for the release; returns
 * at once for a stop that is over. Signal context (or the program's wait). */
static void park(const siginfo_t *si, ucontext_t *ctx, int in_handler)
{
	int epoch = (int)((uintptr_t)si->si_value.sival_ptr >> 32);
	unsigned idx = (unsigned)(uintptr_t)si->si_value.sival_ptr;

	__atomic_fetch_add(&inside, 1, __ATOMIC_ACQ_REL);
	if (epoch != __atomic_load_n(&stop_epoch, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&release_word, __ATOMIC_ACQUIRE) == epoch) {
		__atomic_fetch_sub(&inside, 1, __ATOMIC_ACQ_REL);
		return; /* a stop that is over */
	}
	struct la_thread *t = &slots[idx];
	struct cut_sleep cut = { .nr = -1 }; /* filled by cut_sleep_begin */
	if (in_handler)
		cut_sleep_begin(&t->sys, ctx, &cut); /* before the slot is reused */
	save_context(t, ctx);
	t->tp = la_thread_pointer();
	__atomic_store_n(&t->state, LA_T_PARKED, __ATOMIC_RELEASE);
	__atomic_fetch_add(&parked_count, 1, __ATOMIC_ACQ_REL);
	futex(&parked_count, FUTEX_WAKE_PRIVATE, 1, NULL);
	while (__atomic_load_n(&release_word, __ATOMIC_ACQUIRE) != epoch)
		futex(&release_word, FUTEX_WAIT_PRIVATE, release_word, NULL);
	cut_sleep_finish(&cut, ctx);
	if (in_handler) {
		/* The handler's mask blocks the stop signal until sigreturn, and
		 * the next stop may begin before this thread gets there (a loaded
		 * machine): it would find the signal blocked and scan the thread
		 * unparked. Unblocked now, that stop's signal parks it here. */
		sigset_t stop;
		sigemptyset(&stop);
		sigaddset(&stop, si->si_signo);
		pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
	}
	__atomic_fetch_sub(&inside, 1, __ATOMIC_ACQ_REL);
	futex(&inside, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* A stop signal that is not ours gets what the program asked for (its
 * handler with its own mask and flags, SIG_IGN, or the default action,
 * which for a real-time signal ends the process), as without the agent. */
static void forward(int sig, siginfo_t *si, void *ctx)
{
	struct sigaction a = prog_action;
	if (a.sa_handler == SIG_IGN) /* the union's value, whatever SA_SIGINFO says */
		return;
	if (a.sa_handler == SIG_DFL) {
		installed_sig = 0;
		la_trigger_reraise(sig); /* blocked by a sigprocmask race: it stays pending, as it would */
		return;
	}
	if (a.sa_flags & SA_RESETHAND) {
		memset(&prog_action, 0, sizeof(prog_action));
		prog_action.sa_handler = SIG_DFL;
	}
	sigset_t m = ((const ucontext_t *)ctx)->uc_sigmask;
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&a.sa_mask, s) == 1)
			sigaddset(&m, s);
	if (!(a.sa_flags & SA_NODEFER))
		sigaddset(&m, sig);
	pthread_sigmask(SIG_SETMASK, &m, NULL); /* sigreturn restores the thread's own */
	la_trigger_call_handler(&a, sig, si, ctx);
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	if (is_ours(si))
		park(si, ctx, 1);
	else
		forward(sig, si, ctx);
	errno = saved;
}

static int set_handler(int sig, struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask); /* nothing else runs on a parked thread */
	return la_trigger_real_sigaction(sig, &sa, old);
}

/* Installed once and kept: a signal still pending from an earlier stop must
 * find our handler, not the default action (which would kill the process). */
static int install(int sig)
{
	if (installed_sig == sig)
		return 0;
	if (set_handler(sig, installed_sig ? NULL : &prog_action) < 0)
		return -1;
	__atomic_store_n(&installed_sig, sig, __ATOMIC_RELEASE);
	return 0;
}

/* The stop signal's part of la_trigger_exec_begin/_end: a program that
 * ignores it passes that on to what it starts. */
static int program_ignores_stop(void)
{
	return installed_sig && prog_action.sa_handler == SIG_IGN;
}

void la_world_exec_begin(void)
{
	if (program_ignores_stop())
		la_trigger_set_bare(installed_sig, SIG_IGN);
}

void la_world_exec_end(void)
{
	if (program_ignores_stop())
		set_handler(installed_sig, NULL);
}

int la_world_program_action(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig <= 0 || sig != __atomic_load_n(&installed_sig, __ATOMIC_ACQUIRE))
		return -1;
	if (old)
		*old = prog_action;
	if (act)
		prog_action = *act;
	return 0;
}

/* The exit report runs inside exit() (our handler, called by glibc's
 * __run_exit_handlers) or inside the agent's _exit. The frames between the
 * program's call and our stack pointer are glibc's and ours, and their slots
 * that nobody wrote yet hold stale words of the program's earlier, deeper
 * calls: memcheck reads such slots as undefined and skips them (its scan
 * takes defined words only), so a block the program dropped would stay
 * reachable here only. The thread's stack is therefore scanned from the stack
 * pointer the program had when it called exit, and the callee-saved registers
 * it had then (which those frames saved) are roots, unwound from their CFI.
 * No such frame (a fatal signal, a failed unwind): nothing changes. */
static uintptr_t libc_exit;

static void *real_sigtimedwait;

/* Looked up at start-up: a dlsym inside exit() or a program's sigwait would
 * free the thread's dlerror state (see la_scan_init). */
void la_world_init(void)
{
	libc_exit = (uintptr_t)dlsym(RTLD_NEXT, "exit");
	real_sigtimedwait = dlsym(RTLD_NEXT, "sigtimedwait");
}

/* The registers as they were when the program called exit (or the agent's
 * _exit): what a frame still live then held. */
static void from_exit_entry(struct la_thread *t)
{
#if defined(__x86_64__)
	uintptr_t funcs[] = { libc_exit, (uintptr_t)la_agent__exit }, sp, v[6];
	if (t->nregs + 6 > LA_NREGS || la_unwind_call_regs(funcs, 2, &sp, v) != 1 || sp <= t->sp)
		return;
	for (int i = 0; i < 6; i++)
		t->regs[t->nregs++] = v[i];
	t->sp = sp;
#else
	(void)t;
#endif
}

/* x86-64: the callee-saved registers are the only ones that can hold the
 * caller's pointers across the call into the agent. */
void la_world_capture_self(int at_exit)
{
	struct la_thread *t = &self_slot;
	memset(t, 0, sizeof(*t));
#if defined(__x86_64__)
	__asm__ volatile("mov %%rbx, 0(%0)\n\tmov %%rbp, 8(%0)\n\tmov %%r12, 16(%0)\n\t"
			 "mov %%r13, 24(%0)\n\tmov %%r14, 32(%0)\n\tmov %%r15, 40(%0)"
			 :
			 : "r"(t->regs)
			 : "memory");
	t->nregs = 6;
#else
	__builtin_unwind_init(); /* spills callee-saved registers into this frame */
#endif
	t->sp = (uintptr_t)__builtin_frame_address(0);
	t->tp = la_thread_pointer();
	t->tid = (pid_t)syscall(SYS_gettid);
	t->state = LA_T_SELF;
	if (at_exit)
		from_exit_entry(t);
}

/* Reads the thread ids of /proc/self/task with raw getdents64 (opendir
 * would malloc). Returns how many fit in out, or -1. */
static int list_tasks(int *out, int max)
{
	int n = la_proc_numbers("/proc/self/task", out, max, NULL), k = 0;
	if (n > max)
		n = max;
	/* The agent's reporter thread holds no program pointers and, reports
	 * being serialized, is idle: not part of the world. */
	for (int i = 0; i < n; i++)
		if (out[i] != la_reporter_tid)
			out[k++] = out[i];
	return n < 0 ? -1 : k;
}

/* Reads /proc/self/task/TID/NAME into buf, NUL-terminated; returns its
 * length or -1. */
static ssize_t read_task_file(pid_t tid, const char *name, char *buf, size_t size)
{
	char path[64] = "/proc/self/task/";
	size_t k = strlen(path);
	k += la_fmt_dec(path + k, (uint64_t)tid);
	path[k++] = '/';
	la_strlcpy(path + k, name, sizeof(path) - k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Reads lowercase hex digits at p into *v; returns where they end. */
static const char *hex_digits(const char *p, uint64_t *v)
{
	for (*v = 0; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
		*v = *v << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
	return p;
}

/* Fills t->sys from a /proc/.../syscall line "nr a1..a6 sp pc" (hex with
 * 0x); nr -1 for anything else ("running", a short read). */
static void parse_syscall(struct la_thread *t, const char *p)
{
	uint64_t v[8];
	long nr = 0;
	const char *start = p;
	t->sys.nr = -1;
	for (; *p >= '0' && *p <= '9'; p++)
		nr = nr * 10 + (*p - '0');
	if (p == start)
		return;
	for (int i = 0; i < 8; i++) {
		if (p[0] != ' ' || p[1] != '0' || p[2] != 'x')
			return;
		p = hex_digits(p + 3, &v[i]);
	}
	for (int i = 0; i < 6; i++)
		t->sys.args[i] = (uintptr_t)v[i];
	t->sys.sp = (uintptr_t)v[6];
	t->sys.pc = (uintptr_t)v[7];
	t->sys.nr = nr;
}

/* 1 when the thread cannot take sig now: it blocks it (its status's SigBlk
 * mask), or it sleeps in sigwait/sigtimedwait, whose set the kernel unblocks
 * for the wait and which would return our signal to the program as its
 * next one. Such a thread is not sent the signal and is scanned unparked at
 * once: programs whose workers block every signal (xz) would otherwise hold
 * each report for the whole stop_timeout_ms. Fills t->sys on the way. */
static int cannot_park(struct la_thread *t, int sig)
{
	static LA_BIG char buf[16384]; /* status grows with Groups: (stops are serialized) */
	pid_t tid = t->tid;
	if (read_task_file(tid, "syscall", buf, sizeof(buf)) > 0) {
		parse_syscall(t, buf);
		if (t->sys.nr == SYS_rt_sigtimedwait)
			return 1;
	}
	if (read_task_file(tid, "status", buf, sizeof(buf)) <= 0)
		return 0;
	const char *p = strstr(buf, "\nSigBlk:");
	if (!p)
		return 0;
	p += 9;
	while (*p == ' ' || *p == '\t')
		p++;
	uint64_t mask;
	hex_digits(p, &mask);
	return sig >= 1 && sig <= 64 && (mask >> (sig - 1) & 1);
}

/* Stack pointer of a thread that did not park, from /proc/.../syscall:
 * "nr args... sp pc" while it sleeps in a syscall, "running" otherwise. */
static uintptr_t blocked_sp(pid_t tid)
{
	char line[256];
	if (read_task_file(tid, "syscall", line, sizeof(line)) <= 0)
		return 0;
	/* the second-to-last field */
	char *f[16];
	int nf = 0;
	for (char *p = line; *p && nf < 16;) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		f[nf++] = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	if (nf < 3 || f[nf - 2][0] != '0' || f[nf - 2][1] != 'x')
		return 0;
	uint64_t v;
	const char *end = hex_digits(f[nf - 2] + 2, &v);
	return *end && *end != ' ' && *end != '\n' ? 0 : (uintptr_t)v;
}

static int known(const struct la_world *w, pid_t tid)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].tid == tid)
			return 1;
	return 0;
}

static void wait_parked(const struct la_world *w, uint64_t deadline)
{
	for (;;) {
		int c = __atomic_load_n(&parked_count, __ATOMIC_ACQUIRE);
		size_t waiting = 0;
		for (size_t i = 1; i < w->n; i++)
			waiting += __atomic_load_n(&w->t[i].state, __ATOMIC_ACQUIRE) == LA_T_SENT;
		uint64_t t = now_ns();
		if (!waiting || t >= deadline)
			return;
		uint64_t left = deadline - t;
		if (left > 5000000)
			left = 5000000; /* wake now and then: a thread may have died */
		struct timespec ts = { 0, (long)left };
		futex(&parked_count, FUTEX_WAIT_PRIVATE, c, &ts);
	}
}

void la_world_stop(struct la_world *w)
{
	static int epoch_counter;
	static LA_BIG int tids[LA_MAX_THREADS];
	int sig = (int)la_opt.stop_signal;
	pid_t pid = getpid();

	uint64_t t0 = now_ns();
	memset(w, 0, sizeof(*w));
	if (!slots)
		slots = la_map(LA_MAX_THREADS * sizeof(*slots));
	if (!slots)
		return;
	slots[0] = self_slot;
	w->t = slots;
	w->n = 1;
	if (sig < SIGRTMIN || sig > SIGRTMAX) {
		la_warn("stop_signal out of range, using 40", NULL);
		sig = 40;
	}
	int can_signal = install(sig) == 0;
	if (!can_signal)
		la_warn("cannot install the stop signal handler: threads are scanned whole", NULL);

	int epoch = ++epoch_counter;
	if (epoch <= 0)
		epoch = epoch_counter = 1;
	__atomic_store_n(&release_word, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&parked_count, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&stop_epoch, epoch, __ATOMIC_RELEASE);

	uint64_t deadline = now_ns() + (uint64_t)(la_opt.stop_timeout_ms > 0 ? la_opt.stop_timeout_ms : 1) * 1000000u;
	int last = 0;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		last = list_tasks(tids, LA_MAX_THREADS);
		int fresh = 0;
		for (int i = 0; i < last; i++) {
			if (known(w, tids[i]))
				continue;
			fresh++;
			if (w->n == LA_MAX_THREADS) {
				w->unparked++; /* no slot: counted, not scanned */
				continue;
			}
			struct la_thread *t = &w->t[w->n];
			memset(t, 0, sizeof(*t));
			t->sys.nr = -1;
			t->tid = tids[i];
			t->state = LA_T_SENT;
			siginfo_t si;
			memset(&si, 0, sizeof(si));
			si.si_signo = sig;
			si.si_code = SI_QUEUE;
			si.si_errno = STOP_TAG;
			si.si_pid = pid;
			si.si_uid = getuid();
			si.si_value.sival_ptr = (void *)((uintptr_t)(unsigned)epoch << 32 | w->n);
			w->n++;
			if (!can_signal || cannot_park(t, sig))
				t->state = LA_T_UNPARKED; /* never sent */
			else if (syscall(SYS_rt_tgsigqueueinfo, pid, t->tid, sig, &si) < 0)
				t->state = errno == ESRCH ? 0 : LA_T_UNPARKED; /* 0: it exited */
		}
		if (!fresh && round > 0)
			break;
		wait_parked(w, deadline);
	}

	/* Final tally against the last listing: a thread that exited meanwhile
	 * is no thread any more (state 0). Slots never move: a late handler
	 * writes into the slot its signal named. */
	w->parked = 1; /* the calling thread */
	for (size_t i = 1; i < w->n; i++) {
		struct la_thread *t = &w->t[i];
		int alive = 0;
		for (int j = 0; j < last && !alive; j++)
			alive = tids[j] == t->tid;
		int st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
		if (st == LA_T_PARKED) {
			w->parked++;
		} else if ((st == LA_T_SENT || st == LA_T_UNPARKED) && alive) {
			/* its handler may still run late: it then sees a stale epoch,
			 * or parks until the release like the others */
			t->sp = blocked_sp(t->tid);
			__atomic_store_n(&t->state, LA_T_UNPARKED, __ATOMIC_RELEASE);
			w->unparked++;
		} else if (st != LA_T_PARKED) {
			__atomic_store_n(&t->state, 0, __ATOMIC_RELEASE);
		}
	}
	w->seen = w->parked + w->unparked;
	w->stop_ns = now_ns() - t0;
}

/* --- the program's signal waits ------------------------------------------
 * sigwait, sigwaitinfo and sigtimedwait unblock their whole set for the
 * wait, and a stop signal that arrives then is returned by the wait instead
 * of running our handler. /proc cannot tell such a thread reliably (on its
 * CPU inside the wait it shows "running" and the reduced mask), so it may be
 * sent the signal. The set stays the program's own (the program may wait
 * for signal 40 itself, from a timer or a sigqueue), and the wrappers take
 * our signal out of the stream: one of ours parks the thread right there
 * (or is dropped, its stop over) and the wait goes on with the time left;
 * any other is the program's. Raw rt_sigtimedwait callers are only caught
 * while they sleep (cannot_park). */
/* The next function, resolved by la_world_init; looked up here only when a
 * constructor that ran before the agent's waits for a signal. */
static void *next_fn(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

/* Parks the calling thread for a stop signal its wait took: its context as
 * a handler would have had it, every signal blocked meanwhile. */
static __attribute__((noinline)) void park_here(const siginfo_t *si)
{
	ucontext_t uc;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (getcontext(&uc) == 0)
		park(si, &uc, 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* sigtimedwait without our stop signals; ts NULL waits for ever. */
static int wait_program(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	int (*f)(const sigset_t *, siginfo_t *, const struct timespec *) =
		next_fn(&real_sigtimedwait, "sigtimedwait");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	siginfo_t own;
	siginfo_t *si = info ? info : &own;
	struct timespec left;
	uint64_t end = 0;
	if (ts) {
		left = *ts;
		if (ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000)
			end = now_ns() + (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
	}
	for (;;) {
		int r = f(set, si, ts ? &left : NULL);
		if (r != __atomic_load_n(&installed_sig, __ATOMIC_ACQUIRE) || !is_ours(si))
			return r;
		park_here(si);
		if (ts && end) { /* the time left, zero once over: a last poll */
			uint64_t t = now_ns();
			uint64_t d = t < end ? end - t : 0;
			left.tv_sec = (time_t)(d / 1000000000u);
			left.tv_nsec = (long)(d % 1000000000u);
		}
	}
}

LA_EXPORT int sigwait(const sigset_t *set, int *sig)
{
	int r;
	do /* as glibc's: sigwait never fails with EINTR */
		r = wait_program(set, NULL, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

LA_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return wait_program(set, info, NULL);
}

LA_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	return wait_program(set, info, ts);
}

void la_world_resume(struct la_world *w)
{
	int epoch = __atomic_load_n(&stop_epoch, __ATOMIC_ACQUIRE);
	(void)w;
	__atomic_store_n(&release_word, epoch, __ATOMIC_RELEASE);
	futex(&release_word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
	/* Wait until every handler left, so the next stop starts clean; bounded,
	 * since slots are never unmapped a straggler is harmless. */
	uint64_t deadline = now_ns() + 1000000000u;
	for (;;) {
		int in = __atomic_load_n(&inside, __ATOMIC_ACQUIRE);
		if (in <= 0 || now_ns() >= deadline)
			break;
		struct timespec ts = { 0, 1000000 };
		futex(&inside, FUTEX_WAIT_PRIVATE, in, &ts);
	}
	__atomic_store_n(&stop_epoch, 0, __ATOMIC_RELEASE);
}
