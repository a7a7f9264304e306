/* lsan-signal-fix.c: preloaded before liblsan.so.0 for programs we cannot
 * rebuild (sqlite3): GCC 12's preloaded LSan crashes inside its signal()
 * interceptor, while sigaction() works, so signal() is served by sigaction().
 */
#include <signal.h>

__sighandler_t signal(int sig, __sighandler_t handler)
{
	struct sigaction sa = { 0 }, old;

	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}
