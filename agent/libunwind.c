/* libunwind.c: libunwind, loaded at its first use. The agent's own walker
 * (capture.c) follows almost every frame; libunwind walks the stacks it
 * cannot (frames without unwind tables, rules beyond the walker). Loaded
 * with the agent, libunwind and its liblzma cost every program 130-240 KiB
 * of resident memory and two more objects to load, so they are
 * dlopen()ed the first time a walk needs them, and most programs never
 * load them. The load leaves the program's pending dlerror() as it was;
 * the start swaps in memory reads that use no descriptor (read_word).
 * Where libunwind cannot be loaded, the agent says so once, and a stack
 * only libunwind could walk stays empty.
 *
 * The load takes the dynamic loader's lock inside the program's malloc,
 * once, as libunwind's own walks take the loader's list lock in each of
 * them (dl_iterate_phdr); no lock of the agent's is held around it, so a
 * thread inside the loader never waits for the agent.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

#ifndef LA_LIBUNWIND
#error "LA_LIBUNWIND, libunwind's soname, comes from meson"
#endif

/* The entry points the agent uses, by their libunwind names (the header's
 * macros give the local-only ones: unw_step is _ULx86_64_step). */
struct syms {
	__typeof__(unw_backtrace) *backtrace;
	__typeof__(unw_tdep_getcontext) *getcontext;
	__typeof__(unw_init_local) *init_local;
	__typeof__(unw_step) *step;
	__typeof__(unw_get_reg) *get_reg;
	__typeof__(unw_get_proc_info) *get_proc_info;
	__typeof__(unw_is_signal_frame) *is_signal_frame;
	__typeof__(unw_get_accessors) *get_accessors;
	__typeof__(unw_set_caching_policy) *set_caching_policy;
	__typeof__(unw_flush_cache) *flush_cache;
	unw_addr_space_t *local_as;
};
#define NAME_(f) #f
#define NAME(f) NAME_(f)

static struct syms uw;
static int state; /* 0 not loaded yet, 1 started, -1 cannot be loaded */
static la_lock_t start_lock;

/* --- libunwind's memory reads ----------------------------------------------
 * When libunwind steps a frame it has no unwind information for, it checks
 * that each address is readable by writing a byte of it into a pipe it
 * opened at start, after reading the pipe empty. Those two descriptors live
 * among the program's: a program that closes every descriptor and opens
 * files of its own had bytes of its input read away and bytes of the stack
 * written into its output. So the local address space reads memory through
 * read_word instead, which checks an address with no descriptor, and the
 * pipe, never used again, is closed: the program's descriptors are its own. */

/* Pages known readable in this thread's current walk (a walk reads a few
 * stack pages); forgotten when the next walk starts, since a page may be
 * unmapped between walks. */
static LA_TLS uintptr_t ok_page[4];
static LA_TLS unsigned ok_next;

static int readable(uintptr_t a)
{
	uintptr_t page = a & ~(uintptr_t)4095;
	if (a - page > 4096 - sizeof(uintptr_t))
		return readable(page + 4096) && readable(page + 4096 - sizeof(uintptr_t));
	for (int i = 0; i < 4; i++)
		if (ok_page[i] == page)
			return 1;
	/* An invalid 'how': the kernel copies the set in first (EFAULT when it
	 * cannot read it), then refuses the call (EINVAL), changing nothing. */
	int saved = errno;
	long r = syscall(SYS_rt_sigprocmask, -1, (void *)a, NULL, sizeof(uint64_t));
	int ok = r < 0 && errno == EINVAL;
	errno = saved;
	if (ok)
		ok_page[ok_next++ % 4] = page;
	return ok;
}

static int read_word(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	(void)as;
	(void)arg;
	if (write) {
		*(unw_word_t *)addr = *val; /* libunwind's own cursor: never the program's */
		return 0;
	}
	if (!addr || !readable(addr))
		return -UNW_EINVAL;
	*val = *(const unw_word_t *)addr;
	return 0;
}

/* The descriptors of /proc/self/fd but the listing's own, up to max; -1 when
 * unknown (no /proc, more than max). */
static int list_fds(int *out, int max)
{
	int self = -1, n = la_proc_numbers("/proc/self/fd", out, max + 1, &self), k = 0;
	if (n < 0 || n > max + 1)
		return -1;
	for (int i = 0; i < n; i++)
		if (out[i] != self)
			out[k++] = out[i];
	return k;
}

/* libunwind's pipe end: non-blocking and close-on-exec, as it opens them. */
static int unwind_pipe_end(int fd, const struct stat *st)
{
	return S_ISFIFO(st->st_mode) && (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	       (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* Starts libunwind (which opens its pipe), swaps in read_word and closes
 * the pipe: the two new descriptors, when they are the two ends of one
 * pipe opened as libunwind opens it. */
static void start(void)
{
	int before[65], after[67], fresh[2], nfresh = 0; /* one more: the listing's own */
	int nb = list_fds(before, 64);
	unw_accessors_t *acc = uw.get_accessors(*uw.local_as); /* starts libunwind */
	if (acc)
		acc->access_mem = read_word;
	int na = nb < 0 ? -1 : list_fds(after, 66);
	for (int i = 0; i < na; i++) {
		int old = 0;
		for (int j = 0; j < nb && !old; j++)
			old = before[j] == after[i];
		if (!old && nfresh < 2)
			fresh[nfresh] = after[i];
		nfresh += !old;
	}
	struct stat a, b;
	if (acc && nfresh == 2 && fstat(fresh[0], &a) == 0 && fstat(fresh[1], &b) == 0 &&
	    a.st_ino == b.st_ino && unwind_pipe_end(fresh[0], &a) && unwind_pipe_end(fresh[1], &b)) {
		close(fresh[0]);
		close(fresh[1]);
	}
	/* Per-thread caching where libunwind was built with it; harmless otherwise. */
	uw.set_caching_policy(*uw.local_as, UNW_CACHE_PER_THREAD);
}

/* --- loading ----------------------------------------------------------------
 * glibc keeps a thread's pending dlerror() message in a thread variable that
 * the next dl call frees: the load would lose a message the program has yet
 * to read. Its place, found at start-up as an offset from the thread
 * pointer (libc's thread variables are static TLS), is emptied around the
 * load and refilled after it. A glibc without it (before 2.34) loses it. */
static intptr_t dlerror_at; /* 0: unknown */

/* dlopen()s libunwind and looks up its entry points into s: 1, or 0 with
 * why in why[]. */
static int load(struct syms *s, char *why, size_t size)
{
	void **pending = dlerror_at ? (void **)(la_thread_pointer() + (uintptr_t)dlerror_at) : NULL;
	void *theirs = pending ? *pending : NULL;
	if (pending)
		*pending = NULL;
	void *h = dlopen(LA_LIBUNWIND, RTLD_NOW | RTLD_LOCAL);
	int ok = h != NULL;
#define SYM(field, f) (ok = ok && (*(void **)&s->field = dlsym(h, NAME(f))) != NULL)
	SYM(backtrace, unw_backtrace);
	SYM(getcontext, unw_tdep_getcontext);
	SYM(init_local, unw_init_local);
	SYM(step, unw_step);
	SYM(get_reg, unw_get_reg);
	SYM(get_proc_info, unw_get_proc_info);
	SYM(is_signal_frame, unw_is_signal_frame);
	SYM(get_accessors, unw_get_accessors);
	SYM(set_caching_policy, unw_set_caching_policy);
	SYM(flush_cache, unw_flush_cache);
	SYM(local_as, unw_local_addr_space);
#undef SYM
	if (!ok) {
		const char *e = dlerror();
		la_strlcpy(why, e ? e : "an entry point is missing", size);
		dlerror(); /* frees the message */
	}
	if (pending)
		*pending = theirs;
	return ok;
}

static int __attribute__((noinline)) load_once(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* no handler of this thread comes back in */
	struct syms s;
	char why[256];
	if (load(&s, why, sizeof(why))) {
		la_lock(&start_lock);
		if (!state) {
			uw = s;
			start();
			__atomic_store_n(&state, 1, __ATOMIC_RELEASE);
		}
		la_unlock(&start_lock);
	} else {
		int none = 0;
		if (__atomic_compare_exchange_n(&state, &none, -1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			la_warn("cannot load " LA_LIBUNWIND " (", why,
				"): a stack through frames without unwind tables is left empty", NULL);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE);
}

/* Before each walk: loads and starts libunwind the first time. The caller
 * holds the guard, so libunwind's allocations are not tracked. */
static int ready(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (LA_UNLIKELY(!s))
		s = load_once();
	memset(ok_page, 0, sizeof(ok_page));
	return s > 0;
}

int __attribute__((noinline)) la_libunwind_backtrace(uintptr_t *pcs, int max)
{
	if (!ready())
		return 0;
	int n = uw.backtrace((void **)pcs, max);
	__asm__ volatile("" : "+r"(n)); /* not a tail call: this frame is the first */
	return n < 0 ? 0 : n;
}

int la_libunwind_call_regs(const uintptr_t *funcs, int n, uintptr_t *sp_out, uintptr_t regs[6])
{
	static const int saved[] = { UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12,
				     UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15 };
	unw_context_t uc;
	unw_cursor_t cur;
	if (!ready() || uw.getcontext(&uc) < 0 || uw.init_local(&cur, &uc) < 0)
		return 0;
	for (int depth = 0; depth < 64; depth++) {
		unw_proc_info_t pi;
		if (uw.is_signal_frame(&cur) > 0)
			return 0;
		int entry = 0;
		if (uw.get_proc_info(&cur, &pi) == 0 && pi.start_ip)
			for (int i = 0; i < n; i++)
				entry |= pi.start_ip == funcs[i];
		if (uw.step(&cur) <= 0)
			return 0;
		if (!entry)
			continue;
		unw_word_t v;
		if (uw.get_reg(&cur, UNW_REG_SP, &v) < 0)
			return 0;
		*sp_out = v;
		for (int i = 0; i < 6; i++) {
			if (uw.get_reg(&cur, saved[i], &v) < 0)
				return 0;
			regs[i] = v;
		}
		return 1;
	}
	return 0;
}

void la_libunwind_flush(void)
{
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) > 0)
		uw.flush_cache(*uw.local_as, 0, 0);
}

/* No child inherits a half-started libunwind. */
static void fork_prepare(void)
{
	la_lock(&start_lock);
}

static void fork_done(void)
{
	la_unlock(&start_lock);
}

void la_libunwind_init(void)
{
	pthread_atfork(fork_prepare, fork_done, fork_done);
	void *p = dlvsym(RTLD_DEFAULT, "__libc_dlerror_result", "GLIBC_PRIVATE");
	if (p)
		dlerror_at = (intptr_t)((uintptr_t)p - la_thread_pointer());
}
