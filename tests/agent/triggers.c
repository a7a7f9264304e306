/* Reports on demand and at death, one mode per run (argv[1]); checked by
 * process.py. Every mode leaks `before` (1111 bytes) first.
 *   snapshot DIR   SIGUSR1 to itself, waits for the snapshot in DIR, then
 *                  leaks `after` (2222 bytes) and exits: two reports
 *   chained DIR    installs its own SIGUSR1 handler first: the handler runs
 *                  and the snapshot is still written; sigaction and signal
 *                  report the program's own handlers back
 *   ignored DIR    ignores SIGUSR1 with SA_SIGINFO and SA_RESETHAND set (the
 *                  handler field still says SIG_IGN): the snapshot is
 *                  written, nothing else happens, and the action the
 *                  program sees is still SIG_IGN after the delivery
 *   sleepers DIR   two snapshots while threads sleep in nanosleep (with a
 *                  rem), clock_nanosleep (absolute), poll and epoll_wait
 *                  (no timeout) and select (a timeout): each call ends as
 *                  it would without the agent, none with EINTR
 *   woken DIR      a thread in pause() gets the program's own SIGURG while
 *                  it is parked for a snapshot: its pause ends, as that
 *                  signal would have ended it without the agent (the
 *                  sender blocks the stop signal, so it runs meanwhile)
 *   term           SIGTERM with the default action: report, then death by it
 *   exit5          _exit(5): report, status 5
 *   abort          abort(): report, death by SIGABRT
 *   segv           a null pointer read: report, death by SIGSEGV at the
 *                  same instruction
 *   fpe            an integer division by zero: report, death by SIGFPE
 *   uaf            a read of a big block after free (glibc unmapped it):
 *                  report, death by SIGSEGV, although the report maps
 *                  memory that may land where the block was
 *   pipe           a write to a pipe nobody reads: report, death by SIGPIPE
 *   rearm          takes SIGSEGV over, then restores what it found (the
 *                  default action, as crash handlers do before they
 *                  re-raise), then crashes: report, death by SIGSEGV
 *   dflterm        sets SIGTERM's default action explicitly, then gets
 *                  SIGTERM: report, death by it
 *   oneshot        a SIGTERM handler set with SA_RESETHAND (node's way)
 *                  that finds the default action back in place, says so
 *                  and raises SIGTERM again: report, death by it
 *   oneshot-twice  the same handler returns instead; the second SIGTERM
 *                  meets the default action: report, death by it
 *   in-hook        children busy in malloc/free get SIGTERM, so the handler
 *                  mostly runs inside the agent: one that calls _exit
 *                  exits (the report needed a lock its thread held: it
 *                  hung), one set with SA_RESETHAND|SA_NODEFER that raises
 *                  SIGTERM dies of it (its raise returned); no report
 *                  is promised for either
 *   vforkdeath     a vfork child (sharing our memory) dies of SIGTERM; the
 *                  parent exits 0 and its report names no signal
 *   burst DIR      1000 SIGUSR1 while 4 threads allocate: no crash, no
 *                  deadlock, every report complete (checked by the caller) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink[4];
static int *volatile null_ptr;
static volatile int zero;

__attribute__((noinline)) static int divide(int a, int b) { return a / b; }
static volatile sig_atomic_t handled;
static volatile int stop;

__attribute__((noinline)) void before(void) { sink[0] = malloc(1111); }
__attribute__((noinline)) void after(void) { sink[1] = malloc(2222); }

static int count_reports(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' && strstr(e->d_name, ".raw") != NULL;
	if (d)
		closedir(d);
	return n;
}

static int wait_reports(const char *dir, int n)
{
	for (int i = 0; i < 1000; i++) {
		if (count_reports(dir) >= n)
			return 0;
		usleep(10000);
	}
	return -1;
}

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

/* SA_RESETHAND put the default action back before this runs. */
static void on_term_once(int sig)
{
	struct sigaction now;
	if (sigaction(sig, NULL, &now) != 0 || now.sa_handler != SIG_DFL || (now.sa_flags & SA_SIGINFO))
		_exit(21);
	handled++;
	if (handled == 1 && stop == 0)
		raise(sig); /* pending until the handler returns */
}

static void exit42(int sig)
{
	(void)sig;
	_exit(42);
}

static void reraise_then_exit(int sig)
{
	raise(sig); /* SA_NODEFER, and the default action back: death here */
	_exit(43);
}

/* Ten children per handler; returns how many did not end as expected. */
static int in_hook(void (*h)(int), int flags, int want_status, int want_signal)
{
	int bad = 0;
	for (int i = 0; i < 10; i++) {
		pid_t c = fork();
		if (c == 0) {
			struct sigaction a;
			memset(&a, 0, sizeof(a));
			a.sa_handler = h;
			a.sa_flags = flags;
			sigaction(SIGTERM, &a, NULL);
			for (;;) { /* volatile: the pair must not be optimized away */
				void *volatile p = malloc(64);
				free(p);
			}
		}
		usleep(20000);
		kill(c, SIGTERM);
		int st = 0, waited = 0;
		while (waitpid(c, &st, WNOHANG) == 0 && waited++ < 500)
			usleep(10000);
		if (waited > 500) { /* hung */
			kill(c, SIGKILL);
			waitpid(c, &st, 0);
			bad++;
		} else if (want_signal ? !WIFSIGNALED(st) || WTERMSIG(st) != want_signal
				       : !WIFEXITED(st) || WEXITSTATUS(st) != want_status) {
			bad++;
		}
	}
	return bad;
}

static int wake_fds[2][2]; /* pipes: poll's, epoll's */
static long slept[5];      /* each sleeper's result, or -errno */

static long result(long r)
{
	return r < 0 ? -errno : r;
}

static void *sleeper(void *arg)
{
	int which = (int)(uintptr_t)arg;
	struct timespec ts = { 1, 200000000 }, rem;
	struct pollfd pfd = { wake_fds[0][0], POLLIN, 0 };
	struct epoll_event ev = { EPOLLIN, { 0 } }, got;
	struct timeval tv = { 1, 200000 };
	int ep;
	switch (which) {
	case 0:
		slept[0] = result(nanosleep(&ts, &rem));
		break;
	case 1:
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		slept[1] = -clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		break;
	case 2:
		slept[2] = result(poll(&pfd, 1, -1));
		break;
	case 3:
		ep = epoll_create1(0);
		epoll_ctl(ep, EPOLL_CTL_ADD, wake_fds[1][0], &ev);
		slept[3] = result(epoll_wait(ep, &got, 1, -1));
		break;
	case 4:
		slept[4] = result(select(0, NULL, NULL, NULL, &tv));
		break;
	}
	return NULL;
}

static int sleepers(const char *dir)
{
	pthread_t t[5];
	if (pipe(wake_fds[0]) || pipe(wake_fds[1]))
		return 17;
	for (int i = 0; i < 5; i++)
		pthread_create(&t[i], NULL, sleeper, (void *)(uintptr_t)i);
	usleep(300000); /* all asleep */
	for (int n = 1; n <= 2; n++) {
		kill(getpid(), SIGUSR1);
		if (wait_reports(dir, n) < 0)
			return 18;
	}
	if (write(wake_fds[0][1], "x", 1) != 1 || write(wake_fds[1][1], "x", 1) != 1)
		return 19;
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	printf("nanosleep %ld, clock_nanosleep %ld, poll %ld, epoll_wait %ld, select %ld\n", slept[0],
	       slept[1], slept[2], slept[3], slept[4]);
	return slept[0] == 0 && slept[1] == 0 && slept[2] == 1 && slept[3] == 1 && slept[4] == 0 ? 0 : 20;
}

static void *volatile held[200000];
static volatile pid_t pauser_tid;
static volatile int pauser_done;
static volatile long pauser_ret;

static void on_urg(int sig)
{
	(void)sig;
}

static void *pauser(void *arg)
{
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, 40);
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
	pauser_tid = (pid_t)syscall(SYS_gettid);
	pauser_ret = result(pause());
	pauser_done = 1;
	return arg;
}

/* The number of the system call thread tid sleeps in, or -1. No malloc:
 * during a stop the agent's table is locked, and a malloc would wait. */
static long sleeping_in(pid_t tid)
{
	char path[64], line[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0 || line[0] < '0' || line[0] > '9')
		return -1;
	line[n] = 0;
	return atol(line);
}

static int woken(const char *dir)
{
	sigset_t stop;
	pthread_t t;
	sigemptyset(&stop);
	sigaddset(&stop, 40);
	pthread_sigmask(SIG_BLOCK, &stop, NULL); /* this thread runs through the stop */
	signal(SIGURG, on_urg);
	for (int i = 0; i < 200000; i++) /* a scan of some milliseconds */
		held[i] = malloc(32);
	pthread_create(&t, NULL, pauser, NULL);
	for (int i = 0; i < 500 && (!pauser_tid || sleeping_in(pauser_tid) != SYS_pause); i++)
		usleep(10000);
	/* Snapshots until one is caught with the thread parked (on a loaded
	 * machine a stop may come and go between two looks); each other one
	 * must leave the pause asleep. */
	int sent = 0, snaps = 0;
	while (!sent && snaps < 5) {
		kill(getpid(), SIGUSR1);
		snaps++;
		struct timespec now, end;
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += 3;
		do {
			if (sleeping_in(pauser_tid) == SYS_futex) /* parked in the agent's handler */
				sent = syscall(SYS_tgkill, getpid(), pauser_tid, SIGURG) == 0;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (!sent && (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
		if (wait_reports(dir, snaps) < 0)
			return 18;
		if (!sent && pauser_done)
			break; /* the pause ended by itself: a defect */
	}
	for (int i = 0; i < 300 && !pauser_done; i++)
		usleep(10000);
	printf("signal sent while parked: %s; pause %s\n", sent ? "yes" : "no",
	       !pauser_done ? "still asleep" : pauser_ret == -EINTR ? "ended by it" : "ended otherwise");
	if (!pauser_done)
		return 21; /* the exit report would wait for nobody: the thread sleeps */
	pthread_join(t, NULL);
	return sent && pauser_ret == -EINTR ? 0 : 22;
}

static void *churn(void *arg)
{
	while (!stop) {
		void *p[16];
		for (int i = 0; i < 16; i++)
			p[i] = malloc((size_t)(16 * i + 1));
		for (int i = 0; i < 16; i++)
			free(p[i]);
	}
	return arg;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *dir = argc > 2 ? argv[2] : ".";
	before();
	if (strcmp(mode, "snapshot") == 0 || strcmp(mode, "chained") == 0 || strcmp(mode, "ignored") == 0) {
		struct sigaction ign, now;
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		ign.sa_flags = SA_SIGINFO | SA_RESETHAND;
		if (mode[0] == 'i' && sigaction(SIGUSR1, &ign, NULL) != 0)
			return 14;
		if (mode[0] == 'c') {
			struct sigaction a, old;
			memset(&a, 0, sizeof(a));
			a.sa_handler = on_usr1;
			if (sigaction(SIGUSR1, &a, &old) != 0 || old.sa_handler != SIG_DFL)
				return 10;
			if (signal(SIGUSR1, on_usr1) != on_usr1)
				return 11;
		}
		kill(getpid(), SIGUSR1);
		if (wait_reports(dir, 1) < 0)
			return 12;
		if (mode[0] == 'c' && handled != 1)
			return 13;
		if (mode[0] == 'i' && (sigaction(SIGUSR1, NULL, &now) != 0 || now.sa_handler != SIG_IGN))
			return 15;
		after();
		return 0;
	}
	if (strcmp(mode, "term") == 0) {
		kill(getpid(), SIGTERM);
		pause();
	}
	if (strcmp(mode, "exit5") == 0)
		_exit(5);
	if (strcmp(mode, "abort") == 0)
		abort();
	if (strcmp(mode, "rearm") == 0) {
		struct sigaction a, found;
		memset(&a, 0, sizeof(a));
		a.sa_handler = on_usr1;
		if (sigaction(SIGSEGV, &a, &found) != 0 || found.sa_handler != SIG_DFL ||
		    sigaction(SIGSEGV, &found, NULL) != 0)
			return 18;
		mode = "segv";
	}
	if (strncmp(mode, "oneshot", 7) == 0) {
		struct sigaction a, old;
		memset(&a, 0, sizeof(a));
		a.sa_handler = on_term_once;
		a.sa_flags = SA_RESETHAND;
		stop = mode[7] != 0; /* oneshot-twice: the handler only counts */
		if (sigaction(SIGTERM, &a, NULL) != 0 || sigaction(SIGTERM, NULL, &old) != 0 ||
		    old.sa_handler != on_term_once || !(old.sa_flags & SA_RESETHAND))
			return 20;
		kill(getpid(), SIGTERM);
		if (handled != 1)
			return 22;
		kill(getpid(), SIGTERM);
		pause();
	}
	if (strcmp(mode, "dflterm") == 0) {
		if (signal(SIGTERM, SIG_DFL) != SIG_DFL)
			return 19;
		kill(getpid(), SIGTERM);
		pause();
	}
	if (strcmp(mode, "segv") == 0 || strcmp(mode, "fpe") == 0 || strcmp(mode, "uaf") == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		if (mode[0] == 's')
			return *null_ptr;
		if (mode[0] == 'u') {
			size_t n = (size_t)8 << 20;
			char *volatile big = malloc(n);
			memset(big, 1, n);
			free(big);
			return big[n / 2];
		}
		return divide(1, zero);
	}
	if (strcmp(mode, "sleepers") == 0)
		return sleepers(dir);
	if (strcmp(mode, "woken") == 0)
		return woken(dir);
	if (strcmp(mode, "in-hook") == 0) {
		int hung = in_hook(exit42, 0, 42, 0);
		int lived = in_hook(reraise_then_exit, SA_RESETHAND | SA_NODEFER, 0, SIGTERM);
		printf("_exit in a handler: %d of 10 not exit 42; raise in a one-shot handler: %d of 10 not dead of SIGTERM\n",
		       hung, lived);
		return hung || lived ? 16 : 0;
	}
	if (strcmp(mode, "vforkdeath") == 0) {
		pid_t child = vfork();
		if (child == 0) {
			raise(SIGTERM);
			_exit(1);
		}
		int status = 0;
		if (child < 0 || waitpid(child, &status, 0) != child || !WIFSIGNALED(status))
			return 17;
		return 0;
	}
	if (strcmp(mode, "pipe") == 0) {
		int fd[2];
		if (pipe(fd) != 0)
			return 15;
		close(fd[0]);
		write(fd[1], "x", 1);
		return 16;
	}
	if (strcmp(mode, "burst") == 0) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, churn, NULL);
		for (int i = 0; i < 1000; i++)
			kill(getpid(), SIGUSR1);
		if (wait_reports(dir, 1) < 0)
			return 14;
		usleep(200000);
		stop = 1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		printf("served\n");
		return 0;
	}
	return 20;
}
