/* core.c: unit tests (TAP) of the agent's data structures, linked against
 * the agent core directly: the live table against a reference model under
 * random inserts and removes with growth, by hash and in address order, huge
 * blocks, the stack depot's deduplication, the snapshot's sort, the options
 * parser, and the capture's own stack walk against libunwind's on the same
 * frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "../../agent/agent.h"

static int test_no;
static int failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++test_no, what);
	failed |= !cond;
}

/* the agent core needs these from the preload library; the tests stand alone */
int la_ready = 1;
void la_hooks_resolve(void) {}
void la_exec_init(void) {}

#define N 200000
#define BIG_N 900000

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random inserts and removes of the n blocks of addr[] and size[] against a
 * model, then every block looked up; then, unless keep, the table emptied. */
static void table_model(const uintptr_t *addr, const uint64_t *size, int n, int keep, const char *what)
{
	static char live[BIG_N];
	int good = 1, found_ok = 1;
	char name[160];

	memset(live, 0, sizeof(live));
	for (int round = 0; round < 4 * n; round++) {
		int i = (int)(next_rand() % (uint64_t)n);
		struct la_block b;
		if (live[i]) {
			good &= la_table_remove(addr[i], &b) == 1 && b.size == size[i] &&
				b.stack == (uint32_t)i && b.flags == (uint16_t)(i & 3);
			live[i] = 0;
		} else {
			good &= la_table_insert(addr[i], size[i], (uint32_t)i, (uint16_t)(i & 3)) == 0;
			live[i] = 1;
		}
	}
	snprintf(name, sizeof(name), "%s: random inserts and removes return what was stored", what);
	ok(good, name);
	size_t count = 0;
	for (int i = 0; i < n; i++) {
		struct la_block b;
		int found = la_table_find(addr[i], &b);
		found_ok &= found == live[i] && (!found || b.size == size[i]);
		count += live[i];
	}
	snprintf(name, sizeof(name), "%s: every live block is found, no removed one is", what);
	ok(found_ok, name);
	la_table_lock_all();
	snprintf(name, sizeof(name), "%s: count matches the model", what);
	ok(la_table_count_locked() == count, name);
	la_table_unlock_all();
	snprintf(name, sizeof(name), "%s: at most 40 bytes per live block", what);
	ok(la_table_bytes() <= count * 40 + 64 * 4096, name);
	for (int i = 0; i < n && !keep; i++) {
		struct la_block b;
		if (live[i])
			la_table_remove(addr[i], &b);
	}
}

static void test_table(void)
{
	static uintptr_t addr[BIG_N];
	static uint64_t size[BIG_N];

	for (int i = 0; i < N; i++) {
		addr[i] = 0x100000 + (uintptr_t)i * 48;
		size[i] = (uint64_t)i * 7 + 1;
	}
	table_model(addr, size, N, 0, "small table");

	/* A shard's blocks change from 1 KiB ones to dense 16-byte ones with no
	 * growth in between: the step chosen for the first would crowd the
	 * second, so the shard goes back to slots by hash. */
	int good = 1;
	struct la_block pb;
	for (int phase = 0; phase < 2; phase++) {
		uintptr_t base = phase ? (uintptr_t)5 << 36 : (uintptr_t)4 << 36, stride = phase ? 32 : 1040;
		for (int i = 0; i < 400000; i++)
			good &= la_table_insert(base + (uintptr_t)i * stride, phase ? 16 : 1024, 1, 0) == 0;
		for (int i = 0; i < 400000; i++)
			good &= la_table_find(base + (uintptr_t)i * stride, &pb) && pb.size == (phase ? 16u : 1024u);
		good &= !la_table_find(base + 8, &pb);
		la_table_lock_all();
		good &= la_table_count_locked() == 400000;
		la_table_unlock_all();
		for (int i = 0; i < 400000; i++)
			good &= la_table_remove(base + (uintptr_t)i * stride, &pb) == 1;
	}
	ok(good, "blocks of 1 KiB, then as many dense 16-byte ones: each found once");

	/* A table past the caches' size keeps slots in address order (see
	 * table.c, home): heaps of densely packed small blocks, of mid-sized
	 * ones and of sparse big ones, in one table. */
	for (int i = 0; i < BIG_N; i++) {
		int kind = i % 3;
		uintptr_t base = (uintptr_t)(kind + 1) << 36;
		addr[i] = base + (uintptr_t)(i / 3) * (kind == 0 ? 32 : kind == 1 ? 96 : 8192);
		size[i] = kind == 0 ? 16 : kind == 1 ? 80 + (uint64_t)i % 16 : 5000 + (uint64_t)i;
	}
	table_model(addr, size, BIG_N, 1, "big table"); /* kept for test_snap */
	ok(la_table_bytes() >= (size_t)4 << 20, "the big table grew past 4 MiB, where slots go by address");

	uint64_t big = 5ull << 32;
	la_table_insert(0x7000000, big, 9, 0);
	struct la_block b;
	ok(la_table_find(0x7000000, &b) && b.size == big, "a block of 20 GiB keeps its size");
	ok(la_table_remove(0x7000000, &b) && b.size == big, "and loses it on removal");
	ok(!la_table_remove(0x7000000, &b), "a removed block is gone");
}

static void test_depot(void)
{
	uintptr_t a[32], b[32];
	for (int i = 0; i < 32; i++) {
		a[i] = 0x400000 + (uintptr_t)i;
		b[i] = a[i];
	}
	uint32_t ia = la_depot_put(a, 32);
	uint32_t ib = la_depot_put(b, 32);
	b[31]++;
	uint32_t ic = la_depot_put(b, 32);
	uint32_t id = la_depot_put(a, 31);
	ok(ia != 0 && ia == ib, "equal stacks share one id");
	ok(ic != ia && id != ia && id != ic, "different stacks get different ids");
	int n;
	const uintptr_t *pcs = la_depot_get(ic, &n);
	ok(pcs && n == 32 && memcmp(pcs, b, sizeof(b)) == 0, "a stack reads back as stored");
	int good = 1;
	for (uintptr_t s = 0; s < 100000; s++) {
		uintptr_t one[2] = { s, ~s };
		good &= la_depot_put(one, 2) == la_depot_put(one, 2);
	}
	ok(good, "100000 stacks, each interned once");
	ok(la_depot_count() == 100003, "ids are dense");
}

static void test_snap(void)
{
	struct la_snap s;
	la_table_lock_all();
	int rc = la_snap_take_locked(&s);
	la_table_unlock_all();
	int sorted = rc == 0;
	for (size_t i = 1; i < s.n; i++)
		sorted &= la_snap_addr(&s.blocks[i - 1]) < la_snap_addr(&s.blocks[i]);
	ok(sorted && s.n > 0, "the snapshot is sorted by address");
	la_snap_free(&s);
}

static void test_options(void)
{
	la_options_parse("depth=7:report_at_exit=no:output=/x/%p.raw");
	ok(la_opt.depth == 7 && la_opt.report_at_exit == 0 && strcmp(la_opt.output, "/x/%p.raw") == 0,
	   "options parse");
	la_options_parse("depth=0:depth=x:nosuch=1");
	ok(la_opt.depth == 32 && la_opt.report_at_exit == 1, "bad values keep the defaults");
}

/* Both unwinds start in this frame: frame 0 differs (la_capture's is the
 * pc of its own instruction, libunwind's the return address of its call),
 * every later frame must be the same. */
static int __attribute__((noinline)) same_as_libunwind(int *walked)
{
	uintptr_t buf[LA_CAPTURE_FAST + LA_CAPTURE_SLACK], ref[LA_CAPTURE_FAST + LA_CAPTURE_SLACK];
	const uintptr_t *pcs;
	int n = la_capture(buf, LA_CAPTURE_FAST, &pcs);
	*walked = la_capture_tag != NULL; /* the walker, not its libunwind fallback */
	int m = unw_backtrace((void **)ref, LA_CAPTURE_FAST + LA_CAPTURE_SLACK);
	int same = n == (m < LA_CAPTURE_FAST ? m : LA_CAPTURE_FAST); /* no agent frame to drop */
	for (int i = 1; same && i < n; i++)
		same = pcs[i] == ref[i];
	if (!same) { /* diagnostics for the TAP log */
		fprintf(stderr, "# walked %d frames, libunwind %d\n", n, m);
		for (int i = 0; i < n || i < m; i++)
			fprintf(stderr, "#   %lx %lx\n", i < n ? (unsigned long)pcs[i] : 0, i < m ? (unsigned long)ref[i] : 0);
	}
	return same;
}

/* A walk of each depth shares its outer frames with the others. */
static int __attribute__((noinline)) down(int depth, int *walked)
{
	int r = depth ? down(depth - 1, walked) : same_as_libunwind(walked);
	__asm__ volatile("" : : "r"(r) : "memory"); /* no tail call: keep the frame */
	return r;
}

static void test_capture(void)
{
	int good = 1, walked = 1, w;
	la_capture_init();
	for (int round = 0; round < 3; round++)        /* round 2 and 3: remembered walks */
		for (int d = 0; d < 45; d += 1 + round) { /* beyond the depth, too */
			good &= down(d, &w);
			walked &= w;
		}
	for (int d = 40; d >= 0; d -= 7) { /* shallower again: suffixes of the last walk */
		good &= down(d, &w);
		walked &= w;
	}
	ok(good, "the capture's walk gives libunwind's frames, fresh and remembered");
	ok(walked, "and it walked itself, without falling back to libunwind");
	/* 45 places in turn, more than a thread's memos: walks replace each
	 * other at random, thousands of times, until the thread takes more */
	for (int round = 0; round < 120; round++)
		for (int d = 0; d < 45; d++) {
			good &= down(d, &w);
			walked &= w;
		}
	ok(good && walked, "so too when more places than memos take turns");
}

int main(void)
{
	test_capture();
	test_table();
	test_depot();
	test_snap();
	test_options();
	printf("1..%d\n", test_no);
	return failed;
}
