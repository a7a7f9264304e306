/* Claim: the scan works under gdb, which stops on real-time signals by
 * default: "handle SIG40 nostop noprint pass" lets the stop signal through
 * (option stop_signal names another). Blocks are classified as usual. */
// WRAP: gdb -q -nx -batch -ex "handle SIG40 nostop noprint pass" -ex run --args @PROG@
// EXPECT: record R m 123 1 kept
// EXPECT: record D m 456 1 dropped
// EXPECT: world 3 3 0
// OPTIONS: stop_timeout_ms=10000
// (the counts are exact: a loaded machine must not make a thread late)
#include "parked.h"
