/* agent.c: the agent's lifecycle: start-up (options, output place, unwinder),
 * fork (our locks are held across it; the child starts a new generation of
 * blocks and reports under its own pid), the exit report (after every
 * destructor of the program and its libraries, or its at_quick_exit
 * handlers) and the public leakagent_rt_* entry points of include/leakagent.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

int la_ready;
LA_TLS int la_guard;
LA_TLS int la_disabled;
static int init_state; /* 0 not started, 1 running, 2 done */
static LA_BIG char self_path[4096];

static int self_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t me = (uintptr_t)data;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < lo + ph->p_memsz) {
			la_self_text_lo = lo;
			la_self_text_hi = lo + ph->p_memsz;
			/* absolute, so children started elsewhere find it too */
			if (!realpath(info->dlpi_name, self_path))
				la_strlcpy(self_path, info->dlpi_name, sizeof(self_path));
			return 1;
		}
	}
	return 0;
}

static void fork_prepare(void)
{
	la_guard++;
	la_depot_lock_all();
	la_table_lock_all();
	la_findings_lock();
}

static void fork_parent(void)
{
	la_findings_unlock();
	la_table_unlock_all();
	la_depot_unlock_all();
	la_guard--;
}

static void fork_child(void)
{
	la_findings_unlock();
	la_table_unlock_all();
	la_depot_unlock_all();
	la_generation = (la_generation + 1) & 0xff;
	la_report_after_fork();
	la_trigger_after_fork();
	la_guard--;
}

/* Blank our entry out of LD_PRELOAD in place (no malloc), so that programs
 * started by exec run without the agent. */
static void drop_from_preload(void)
{
	char *p = getenv("LD_PRELOAD");
	const char *base = strrchr(self_path, '/');
	base = base ? base + 1 : self_path;
	while (p && *p) {
		size_t n = strcspn(p, " :");
		const char *slash = memrchr(p, '/', n);
		const char *name = slash ? slash + 1 : p;
		if ((size_t)(p + n - name) == strlen(base) && memcmp(name, base, strlen(base)) == 0)
			memset(p, ' ', n);
		p += n;
		p += strspn(p, " :");
	}
}

static void exit_report(void *unused)
{
	(void)unused;
	la_exit_report();
}

extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

/* quick_exit runs the at_quick_exit handlers and then glibc's internal
 * _exit, which our _exit never sees: registered first, at start-up, this
 * handler runs after the program's. Like _exit, option report_on__exit. */
static void quick_exit_report(void)
{
	if (la_opt.report_on__exit)
		la_exit_report();
}

/* Library destructors run in _dl_fini, some after ours; an exit handler
 * registered now, with no DSO, runs after _dl_fini has finished them all. */
__attribute__((destructor)) static void at_fini(void)
{
	if (init_state == 2)
		__cxa_atexit(exit_report, NULL, NULL);
}

void la_init(void)
{
	int expected = 0;
	if (!__atomic_compare_exchange_n(&init_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
			sched_yield(); /* another thread is starting the agent */
		return;
	}
	int saved_errno = errno; /* started from a program's malloc: errno is its own */
	la_guard++;
	la_hooks_resolve();
	la_options_parse(getenv("LEAKAGENT_OPTIONS"));
	if (la_opt.help)
		la_options_print_help(2);
	dl_iterate_phdr(self_cb, (void *)(uintptr_t)&la_init);
	la_writer_init();
	la_report_init();
	la_exec_init();
	la_capture_init();
	la_libunwind_init();
	la_scan_init();
	la_world_init();
	if (!la_opt.follow_children)
		drop_from_preload();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	la_modules_refresh();
	la_trigger_init();
	at_quick_exit(quick_exit_report);
	la_writer_beacon();
	la_guard--;
	errno = saved_errno;
	__atomic_store_n(&la_ready, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void at_start(void)
{
	la_init();
}

const char *la_self_path(void)
{
	return self_path;
}

/* --- include/leakagent.h ------------------------------------------------- */

LA_EXPORT int leakagent_rt_ignore_object(const void *p)
{
	return p && la_table_set_flags((uintptr_t)p, LA_F_IGNORED) ? 0 : -1;
}

LA_EXPORT void leakagent_rt_disable(void)
{
	la_disabled++;
}

LA_EXPORT void leakagent_rt_enable(void)
{
	if (la_disabled > 0)
		la_disabled--;
}

LA_EXPORT int leakagent_rt_snapshot(int delta)
{
	return la_report("api", delta != 0);
}
