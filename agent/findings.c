/* findings.c: frees that went wrong: a block freed with the wrong family
 * (new[] with free, malloc with delete, ...) or an address that was never
 * allocated. Kept deduplicated by (kind, families, both stacks) with a count,
 * in a fixed array: a program that does this a million times still costs 64 KiB.
 */
#include "agent.h"

#define MAX_FINDINGS 1024

static la_lock_t lock;
static LA_BIG struct la_finding list[MAX_FINDINGS];
static size_t count;
static uint64_t dropped; /* distinct findings past the array's end */

void la_findings_add(char what, int afam, int ffam, uint32_t astack, uint32_t fstack,
		     uintptr_t addr, uint64_t size)
{
	la_lock(&lock);
	for (size_t i = 0; i < count; i++) {
		struct la_finding *f = &list[i];
		if (f->what == what && f->afam == afam && f->ffam == ffam && f->astack == astack &&
		    f->fstack == fstack) {
			f->count++;
			la_unlock(&lock);
			return;
		}
	}
	if (count < MAX_FINDINGS)
		list[count++] = (struct la_finding){ what, (char)afam, (char)ffam, astack, fstack,
						     addr, size, 1 };
	else
		dropped++;
	la_unlock(&lock);
}

size_t la_findings_copy(struct la_finding *out, size_t max)
{
	la_lock(&lock);
	size_t n = count < max ? count : max;
	for (size_t i = 0; i < n; i++)
		out[i] = list[i];
	la_unlock(&lock);
	return n;
}

void la_findings_lock(void)
{
	la_lock(&lock);
}

void la_findings_unlock(void)
{
	la_unlock(&lock);
}
