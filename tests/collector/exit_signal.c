/* Claim: a program killed by a signal makes leakagent exit with 128+signal,
 * and its report names the signal. */
#include <signal.h>
#include <stdlib.h>

int main(void)
{
	void *volatile p = malloc(10);
	(void)p;
	raise(SIGTERM);
	return 0;
}
