/* roots.c: root regions the program registers (leakagent_register_root) and
 * the list of the agent's own mappings, which must never act as roots (the
 * table holds every block's address). The mapping list is lock-free: la_map
 * runs inside hooks, across fork and while the world is stopped.
 */
#include <string.h>

#include "agent.h"

#define MAX_AGENT_MAPS 8192
#define MAX_ROOTS 1024

/* lo == 0: free slot. A slot is claimed by CAS on lo, then hi is published;
 * a reader that sees hi == 0 skips the slot (it is being filled). */
static LA_BIG struct { uintptr_t lo, hi; } agent_maps[MAX_AGENT_MAPS];
static int agent_maps_full_warned;

static la_lock_t roots_lock;
static LA_BIG struct { uintptr_t lo, hi; } roots[MAX_ROOTS];
static size_t nroots;

void la_roots_note_map(void *p, size_t size)
{
	uintptr_t lo = (uintptr_t)p;
	for (size_t i = 0; i < MAX_AGENT_MAPS; i++) {
		uintptr_t z = 0;
		if (__atomic_load_n(&agent_maps[i].lo, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&agent_maps[i].lo, &z, lo, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			/* mmap rounds to pages: so does the excluded range */
			__atomic_store_n(&agent_maps[i].hi, lo + ((size + 4095) & ~(size_t)4095),
					 __ATOMIC_RELEASE);
			return;
		}
	}
	/* Out of slots: the mapping may be scanned as a program mapping, which
	 * can hide leaks; say so once. */
	if (!__atomic_exchange_n(&agent_maps_full_warned, 1, __ATOMIC_RELAXED))
		la_warn("too many agent mappings to exclude from the scan", NULL);
}

void la_roots_forget_map(void *p, size_t size)
{
	uintptr_t lo = (uintptr_t)p;
	(void)size;
	for (size_t i = 0; i < MAX_AGENT_MAPS; i++) {
		if (__atomic_load_n(&agent_maps[i].lo, __ATOMIC_ACQUIRE) == lo) {
			__atomic_store_n(&agent_maps[i].hi, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&agent_maps[i].lo, 0, __ATOMIC_RELEASE);
			return;
		}
	}
}

void la_roots_foreach_agent_map(la_range_fn fn, void *ctx)
{
	for (size_t i = 0; i < MAX_AGENT_MAPS; i++) {
		uintptr_t lo = __atomic_load_n(&agent_maps[i].lo, __ATOMIC_ACQUIRE);
		uintptr_t hi = __atomic_load_n(&agent_maps[i].hi, __ATOMIC_ACQUIRE);
		if (lo && hi > lo)
			fn(lo, hi, ctx);
	}
}

size_t la_roots_copy(uintptr_t (*out)[2], size_t max)
{
	size_t n = 0;
	la_lock(&roots_lock);
	for (size_t i = 0; i < nroots && n < max; i++, n++) {
		out[n][0] = roots[i].lo;
		out[n][1] = roots[i].hi;
	}
	la_unlock(&roots_lock);
	return n;
}

/* --- include/leakagent.h ------------------------------------------------- */

LA_EXPORT int leakagent_rt_register_root(const void *p, size_t size)
{
	uintptr_t lo = (uintptr_t)p;
	int rc = -1;
	if (!p || !size || lo + size < lo)
		return -1;
	la_lock(&roots_lock);
	if (nroots < MAX_ROOTS) {
		roots[nroots].lo = lo;
		roots[nroots].hi = lo + size;
		nroots++;
		rc = 0;
	}
	la_unlock(&roots_lock);
	return rc;
}

/* Removes the region registered with exactly these bounds (LSan's rule). */
LA_EXPORT int leakagent_rt_unregister_root(const void *p, size_t size)
{
	uintptr_t lo = (uintptr_t)p;
	int rc = -1;
	la_lock(&roots_lock);
	for (size_t i = 0; i < nroots; i++) {
		if (roots[i].lo == lo && roots[i].hi == lo + size) {
			roots[i] = roots[--nroots];
			rc = 0;
			break;
		}
	}
	la_unlock(&roots_lock);
	return rc;
}
