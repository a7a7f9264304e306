/* Claim: the exit report does not take the frames of exit() itself (glibc's
 * __run_exit_handlers, the agent's handler and report) as roots. Their slots
 * that nobody wrote yet hold stale words of the program's earlier, deeper
 * calls, which memcheck reads as undefined and skips: a block that only such
 * a stale word points to is definitely lost. What the program still holds
 * when it calls exit stays reachable: its frames above the call, and its
 * callee-saved registers, which the exit frames saved on their stack.
 * (exit_frames_exit.c: the same through _exit.) */
// EXPECT: record D m 4000 1 main
// EXPECT: record R m 16 1 main
#include <stdlib.h>
#include <unistd.h>

#ifndef EXIT_FN
#define EXIT_FN exit
#endif

/* Leaves p in every word of 16 KiB below the caller's frame: the place the
 * exit frames will occupy. */
__attribute__((noinline)) void smear(void *p)
{
	volatile void *w[2048];
	for (int i = 0; i < 2048; i++)
		w[i] = p;
	__asm__ volatile("" ::"r"(w) : "memory");
}

/* Calls fn(0) with p in rbx (written in assembly: whether the compiler keeps
 * a pointer in a callee-saved register is up to it). */
void call_exit_with_rbx(void *p, void (*fn)(int));
__asm__(".text\n.globl call_exit_with_rbx\n.type call_exit_with_rbx,@function\n"
	"call_exit_with_rbx:\n.cfi_startproc\npush %rbx\n.cfi_def_cfa_offset 16\n"
	".cfi_offset rbx,-16\nmov %rdi,%rbx\nxor %edi,%edi\ncall *%rsi\n"
	"pop %rbx\n.cfi_restore rbx\n.cfi_def_cfa_offset 8\nret\n.cfi_endproc\n"
	".size call_exit_with_rbx,.-call_exit_with_rbx\n");

int main(void)
{
	smear(malloc(4000)); /* lost: nothing but stale stack words below */
	call_exit_with_rbx(malloc(16), EXIT_FN);
	return 1;
}
