/* Claim: as exit_frames.c, when the program leaves through _exit (the agent's
 * _exit writes the report from its own frames). */
// EXPECT: record D m 4000 1 main
// EXPECT: record R m 16 1 main
#define EXIT_FN _exit
#include "exit_frames.c"
