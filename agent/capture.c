/* capture.c: the stack of the current allocation, through libunwind's
 * unw_backtrace (about 8 ns a frame, no syscall, no malloc once warm). The
 * hot capture is la_capture, inline in agent.h so that it runs in the hook's
 * own frame; this file holds the deep fallback and the unwinder's set-up.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

#include "agent.h"

uintptr_t la_self_text_lo, la_self_text_hi;

void la_capture_init(void)
{
	/* Per-thread caching where libunwind was built with it; harmless otherwise. */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

/* Unwinds with room for any number of agent frames on top: whenever the
 * buffer filled up before max program frames were seen, again with twice
 * the slack. Costs one more unwound frame than la_capture (this one). */
int __attribute__((noinline)) la_capture_deep(uintptr_t *pcs, int max)
{
	for (int slack = 16;; slack *= 2) {
		uintptr_t buf[max + slack];
		int n = unw_backtrace((void **)buf, max + slack);
		int skip = 0;

		while (skip < n && buf[skip] >= la_self_text_lo && buf[skip] < la_self_text_hi)
			skip++;
		if (n - skip >= max || n < max + slack || slack >= 1024) {
			n = n - skip < max ? n - skip : max;
			memcpy(pcs, buf + skip, sizeof(*pcs) * (size_t)n);
			return n;
		}
	}
}

void la_capture_flush(void)
{
	unw_flush_cache(unw_local_addr_space, 0, 0);
}
