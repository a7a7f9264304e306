/* Claim: a report leaves glibc's per-thread dlerror state alone. A failed
 * dlsym keeps its message (malloc'd under _dlerror_run) for the next
 * dlerror(); the agent's own symbol look-ups must not free it behind the
 * table's back (glibc frees it when the next dl call succeeds). So after a
 * snapshot dlerror() still returns the message, and at exit the state, held
 * by a TLS pointer of libc, is still reachable, not lost (memcheck with
 * --run-libc-freeres=no: still reachable; by default it is freed). The
 * records are glibc's, so only the lost total is checked. */
// EXPECT: reports 2
// EXPECT: each-report 1
// EXPECT: lost 0
// EXPECT: stdout kept
#include <dlfcn.h>
#include <stdio.h>

#include "leakagent.h"

int main(void)
{
	if (dlsym(RTLD_DEFAULT, "leakagent_no_such_symbol"))
		return 2;
	leakagent_snapshot(0);
	const char *e = dlerror();
	puts(e ? "kept" : "lost");
	if (dlsym(RTLD_DEFAULT, "leakagent_no_such_symbol_either"))
		return 2;
	return 0; /* its state and message stay for exit */
}
