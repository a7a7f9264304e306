/* Claim: a pointer that sat in rbp while an allocation was captured does not
 * keep its block reachable once the program has dropped it: the walks the
 * capture remembers (saved rbp values among them) are not roots of the scan.
 * They used to live in static TLS, which the scan reads. */
// EXPECT: record D m 5000 1 main
// EXPECT: record R m 16 1 under_rbp
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" ::"r"(p) : "memory")

void *volatile kept;

/* Calls fn with p in rbp, as code built without frame pointers may well do
 * (written in assembly: this file is built with frame pointers). */
void call_with_rbp(void *p, void (*fn)(void));
__asm__(".text\n.globl call_with_rbp\n.type call_with_rbp,@function\ncall_with_rbp:\n"
	".cfi_startproc\npush %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset rbp,-16\n"
	"mov %rdi,%rbp\ncall *%rsi\n"
	"pop %rbp\n.cfi_restore rbp\n.cfi_def_cfa_offset 8\nret\n.cfi_endproc\n"
	".size call_with_rbp,.-call_with_rbp\n");

__attribute__((noinline)) void under_rbp(void)
{
	kept = malloc(16);
}

int main(void)
{
	call_with_rbp(malloc(5000), under_rbp); /* the 5000 bytes are lost here */
	return 0;
}
