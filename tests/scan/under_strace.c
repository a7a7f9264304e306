/* Claim: the scan works under strace (ptrace-based tools keep LSan from
 * running): threads park on our signal, blocks are classified as usual. */
// WRAP: strace -f -qq -o /dev/null
// EXPECT: record R m 123 1 kept
// EXPECT: record D m 456 1 dropped
// EXPECT: world 3 3 0
// OPTIONS: stop_timeout_ms=10000
// (the counts are exact: a loaded machine must not make a thread late)
#include "parked.h"
