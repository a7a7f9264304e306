/* leakagent.h: the API a program may call to talk to the leakagent agent.
 * Header only, no library to link: each call goes through a weak reference
 * that the preloaded libleakagent.so resolves, and is a no-op when the agent
 * is not loaded, so a program built with it runs the same without the agent.
 */
#ifndef LEAKAGENT_H
#define LEAKAGENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported by libleakagent.so; weak here so they are NULL without it. */
extern int leakagent_rt_ignore_object(const void *p) __attribute__((weak));
extern void leakagent_rt_disable(void) __attribute__((weak));
extern void leakagent_rt_enable(void) __attribute__((weak));
extern int leakagent_rt_register_root(const void *p, size_t size) __attribute__((weak));
extern int leakagent_rt_unregister_root(const void *p, size_t size) __attribute__((weak));
extern int leakagent_rt_snapshot(int delta) __attribute__((weak));

/* 1 when the agent is loaded into this process, 0 otherwise. */
static inline int leakagent_active(void)
{
	return leakagent_rt_snapshot != NULL;
}

/* Never report the heap block p points to (start of the block); blocks it
 * points to are still scanned. Returns 0, -1 if p is not a live block or the
 * agent is not loaded. */
static inline int leakagent_ignore_object(const void *p)
{
	return leakagent_rt_ignore_object ? leakagent_rt_ignore_object(p) : -1;
}

/* Blocks allocated by this thread between disable and enable are not
 * reported (still tracked, so their frees are not invalid). Nests. */
static inline void leakagent_disable(void)
{
	if (leakagent_rt_disable)
		leakagent_rt_disable();
}

static inline void leakagent_enable(void)
{
	if (leakagent_rt_enable)
		leakagent_rt_enable();
}

/* Treat [p, p+size) as a root: pointers stored there keep blocks reachable
 * (memory the agent cannot find by itself, such as a region shared with a
 * device). Returns 0, -1 on error or without the agent. */
static inline int leakagent_register_root(const void *p, size_t size)
{
	return leakagent_rt_register_root ? leakagent_rt_register_root(p, size) : -1;
}

static inline int leakagent_unregister_root(const void *p, size_t size)
{
	return leakagent_rt_unregister_root ? leakagent_rt_unregister_root(p, size) : -1;
}

/* Write a report now, as SIGUSR1 (delta = 0) or SIGUSR2 (delta = 1) would.
 * Returns 0 once the report is written, -1 on error or without the agent. */
static inline int leakagent_snapshot(int delta)
{
	return leakagent_rt_snapshot ? leakagent_rt_snapshot(delta) : -1;
}

#ifdef __cplusplus
}
/* Disable reporting for the rest of a C++ scope. */
struct leakagent_disable_scope {
	leakagent_disable_scope() { leakagent_disable(); }
	~leakagent_disable_scope() { leakagent_enable(); }
	leakagent_disable_scope(const leakagent_disable_scope &) = delete;
	leakagent_disable_scope &operator=(const leakagent_disable_scope &) = delete;
};
#else
/* Disable reporting until the end of the enclosing C block. */
static inline void leakagent_scope_end_(int *unused)
{
	(void)unused;
	leakagent_enable();
}
#define LEAKAGENT_DISABLE_SCOPE                                                  \
	int leakagent_scope_ __attribute__((cleanup(leakagent_scope_end_), unused)) = \
		(leakagent_disable(), 0)
#endif

#endif
