/* report.c: one report, from trigger to file: freeze the table into a sorted
 * snapshot, classify it, aggregate blocks into records by (kind, family,
 * origin, stack), and write the raw format of include/leakagent-raw.h.
 * A delta report keeps only the blocks allocated since the previous delta's
 * mark (flag LA_F_NEW, cleared while the table is frozen) and adds the
 * per-stack growth of all outstanding blocks since that mark.
 * Runs on whichever thread triggered it, with the recursion guard held, so
 * nothing it does is tracked; reports are serialized by one lock.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

struct record {
	uint32_t stack;
	char kind, fam, origin;
	uint64_t bytes, blocks, ibytes, iblocks;
	struct { uintptr_t addr; uint64_t size; } largest[LA_RAW_LARGEST];
};

struct records {
	struct record *v;
	size_t n, cap; /* open addressing, cap a power of two; v[i].blocks 0 = empty */
};

static la_lock_t report_lock;
static unsigned report_seq;
static unsigned mark_seq;      /* the report that set the delta mark; 0: start */
static struct records mark;    /* totals by (kind, family, stack) at the mark */
static LA_BIG struct la_writer writer;
static LA_BIG char cmdline[32768];
static size_t cmdline_len;


void la_report_init(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k;
	while (cmdline_len < sizeof(cmdline) - 1 &&
	       (k = read(fd, cmdline + cmdline_len, sizeof(cmdline) - 1 - cmdline_len)) > 0)
		cmdline_len += (size_t)k;
	close(fd);
}

static void free_records(struct records *r)
{
	la_unmap(r->v, r->cap * sizeof(*r->v));
	memset(r, 0, sizeof(*r));
}

/* The process this one forked from (la_pid before the fork), 0 in a process
 * started by exec: forked children are processes no other tool reports. */
static pid_t forked_from;

void la_report_after_fork(void)
{
	forked_from = la_pid; /* not yet this process's: la_trigger_after_fork sets it */
	report_seq = mark_seq = 0;
	free_records(&mark); /* the parent's: copied at fork */
	la_lock_init(&report_lock);
}

static size_t slot_of(const struct records *r, uint32_t stack, char kind, char fam, char origin)
{
	size_t h = ((size_t)stack * 0x9e3779b97f4a7c15ull) ^ (size_t)kind << 16 ^
		   (size_t)fam << 8 ^ (size_t)origin;
	for (size_t i = h & (r->cap - 1);; i = (i + 1) & (r->cap - 1)) {
		const struct record *x = &r->v[i];
		if (!x->blocks || (x->stack == stack && x->kind == kind && x->fam == fam &&
				   x->origin == origin))
			return i;
	}
}

static int records_grow(struct records *r)
{
	struct records nr = { NULL, r->n, r->cap ? r->cap * 2 : 1024 };
	nr.v = la_map(nr.cap * sizeof(*nr.v));
	if (!nr.v)
		return -1;
	for (size_t i = 0; i < r->cap; i++) {
		const struct record *x = &r->v[i];
		if (x->blocks)
			nr.v[slot_of(&nr, x->stack, x->kind, x->fam, x->origin)] = *x;
	}
	la_unmap(r->v, r->cap * sizeof(*r->v));
	*r = nr;
	return 0;
}

static void keep_largest(struct record *x, uintptr_t addr, uint64_t size)
{
	int k = LA_RAW_LARGEST - 1;
	if (x->largest[k].addr && x->largest[k].size >= size)
		return;
	while (k > 0 && (!x->largest[k - 1].addr || x->largest[k - 1].size < size)) {
		x->largest[k] = x->largest[k - 1];
		k--;
	}
	x->largest[k].addr = addr;
	x->largest[k].size = size;
}

enum { ALL, ONLY_NEW, BY_STACK }; /* what aggregate() collects */

/* BY_STACK folds the origin away and skips the largest blocks: the growth
 * totals. ONLY_NEW: blocks this process allocated since the mark (inherited
 * ones predate this process's start, whatever their flag says). */
static int aggregate(const struct la_snap *s, struct records *r, int what)
{
	unsigned gen = la_generation & 0xff;
	for (size_t i = 0; i < s->n; i++) {
		const struct la_snap_block *b = &s->blocks[i];
		uint16_t flags = la_snap_flags(b);
		int own = ((flags & LA_F_GEN_MASK) >> LA_F_GEN_SHIFT) == gen;
		if ((flags & LA_F_IGNORED) || (what == ONLY_NEW && !(own && (flags & LA_F_NEW))))
			continue;
		if ((r->n + 1) * 2 > r->cap && records_grow(r) < 0)
			return -1;
		char fam = la_fam_letter[flags & LA_F_FAMILY];
		char kind = la_snap_kind(s, b);
		uint64_t size = la_snap_size(s, b), ibytes, iblocks;
		char origin = what == BY_STACK ? 0 : own ? LA_ORIGIN_OWN : LA_ORIGIN_INHERITED;
		struct record *x = &r->v[slot_of(r, b->stack, kind, fam, origin)];
		if (!x->blocks) {
			x->stack = b->stack;
			x->kind = kind;
			x->fam = fam;
			x->origin = origin;
			r->n++;
		}
		x->bytes += size;
		x->blocks++;
		if (what == BY_STACK)
			continue;
		la_scan_indirect(s, i, &ibytes, &iblocks);
		x->ibytes += ibytes;
		x->iblocks += iblocks;
		keep_largest(x, la_snap_addr(b), size);
	}
	return 0;
}

/* Each stack named by a record (of any of the nr tables) or a finding,
 * written once, in id order. */
static void write_stacks(struct la_writer *w, const struct records *r, int nr,
			 const struct la_finding *f, size_t nf)
{
	uint32_t max = la_depot_count() + 1;
	size_t bytes = (max + 7) / 8;
	unsigned char *seen = la_map(bytes);
	if (!seen)
		return;
	for (; nr > 0; nr--, r++)
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].blocks && r->v[i].stack < max)
				seen[r->v[i].stack / 8] |= (unsigned char)(1 << r->v[i].stack % 8);
	for (size_t i = 0; i < nf; i++) {
		if (f[i].astack < max)
			seen[f[i].astack / 8] |= (unsigned char)(1 << f[i].astack % 8);
		if (f[i].fstack < max)
			seen[f[i].fstack / 8] |= (unsigned char)(1 << f[i].fstack % 8);
	}
	for (uint32_t id = 1; id < max; id++) {
		int n;
		const uintptr_t *pcs;
		if (!(seen[id / 8] & (1 << id % 8)) || !(pcs = la_depot_get(id, &n)))
			continue;
		la_writer_tag(w, 's');
		la_writer_hex(w, id);
		la_writer_hex(w, (uint64_t)n);
		for (int k = 0; k < n; k++)
			la_writer_hex(w, pcs[k]);
		la_writer_eol(w);
	}
	la_unmap(seen, bytes);
}

static void write_header(struct la_writer *w, const char *trigger, unsigned seq)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	la_writer_tag(w, 'p');
	la_writer_hex(w, (uint64_t)getpid());
	la_writer_hex(w, (uint64_t)getppid());
	la_writer_eol(w);
	if (forked_from) {
		la_writer_tag(w, 'c');
		la_writer_hex(w, (uint64_t)forked_from);
		la_writer_eol(w);
	}
	la_writer_tag(w, 'x');
	la_writer_esc(w, la_exe_path);
	la_writer_eol(w);
	for (size_t off = 0, i = 0; off < cmdline_len; i++) {
		la_writer_tag(w, 'a');
		la_writer_hex(w, i);
		la_writer_esc(w, cmdline + off);
		la_writer_eol(w);
		off += strlen(cmdline + off) + 1;
	}
	la_writer_tag(w, 't');
	la_writer_str(w, " ");
	la_writer_str(w, trigger);
	la_writer_hex(w, seq);
	la_writer_hex(w, (uint64_t)ts.tv_sec);
	la_writer_hex(w, (uint64_t)ts.tv_nsec);
	la_writer_eol(w);
	if (la_fatal_signal && strcmp(trigger, "exit") == 0) {
		la_writer_tag(w, 'k');
		la_writer_hex(w, (uint64_t)la_fatal_signal);
		la_writer_eol(w);
	}
	la_writer_str(w, "o depth");
	la_writer_hex(w, (uint64_t)la_opt.depth);
	la_writer_eol(w);
	la_writer_str(w, "o scan");
	la_writer_hex(w, (uint64_t)la_opt.scan);
	la_writer_eol(w);
}

static void write_records(struct la_writer *w, const struct records *r)
{
	for (size_t i = 0; i < r->cap; i++) {
		const struct record *x = &r->v[i];
		char t[8] = { 'r', ' ', x->kind, ' ', x->fam, ' ', x->origin, 0 };
		if (!x->blocks)
			continue;
		la_writer_str(w, t);
		la_writer_hex(w, x->stack);
		la_writer_hex(w, x->bytes);
		la_writer_hex(w, x->blocks);
		la_writer_hex(w, x->ibytes);
		la_writer_hex(w, x->iblocks);
		la_writer_eol(w);
		for (int k = 0; k < LA_RAW_LARGEST && x->largest[k].addr; k++) {
			la_writer_tag(w, 'b');
			la_writer_hex(w, x->largest[k].addr);
			la_writer_hex(w, x->largest[k].size);
			la_writer_eol(w);
		}
	}
}

/* " <hex>" or " -<hex>": the signed difference now - then */
static void write_signed(struct la_writer *w, uint64_t now, uint64_t then)
{
	char num[20] = " -";
	if (now >= then) {
		la_writer_hex(w, now - then);
		return;
	}
	num[2 + la_fmt_hex(num + 2, then - now)] = 0;
	la_writer_str(w, num);
}

static void write_growth_line(struct la_writer *w, const struct record *x, uint64_t bytes,
			      uint64_t blocks)
{
	char t[6] = { 'g', ' ', x->kind, ' ', x->fam, 0 };
	la_writer_str(w, t);
	la_writer_hex(w, x->stack);
	write_signed(w, x->bytes, bytes);
	write_signed(w, x->blocks, blocks);
	la_writer_eol(w);
}

/* g lines: what changed per (kind, family, stack) between the mark and now:
 * every key of now that differs from the mark, then every key of the mark
 * that is gone. */
static void write_growth(struct la_writer *w, const struct records *now)
{
	for (size_t i = 0; i < now->cap; i++) {
		const struct record *x = &now->v[i], *m = NULL;
		if (!x->blocks)
			continue;
		if (mark.cap)
			m = &mark.v[slot_of(&mark, x->stack, x->kind, x->fam, 0)];
		uint64_t bytes = m ? m->bytes : 0, blocks = m ? m->blocks : 0;
		if (bytes != x->bytes || blocks != x->blocks)
			write_growth_line(w, x, bytes, blocks);
	}
	for (size_t i = 0; i < mark.cap; i++) {
		const struct record *m = &mark.v[i];
		if (m->blocks &&
		    (!now->cap || !now->v[slot_of(now, m->stack, m->kind, m->fam, 0)].blocks)) {
			struct record gone = *m;
			gone.bytes = gone.blocks = 0;
			write_growth_line(w, &gone, m->bytes, m->blocks);
		}
	}
}

static void write_findings(struct la_writer *w, const struct la_finding *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		char fams[5] = { ' ', f[i].afam, ' ', f[i].ffam, 0 };
		la_writer_str(w, f[i].what == 'v' ? "f invalid" : "f mismatch");
		la_writer_str(w, fams);
		la_writer_hex(w, f[i].astack);
		la_writer_hex(w, f[i].fstack);
		la_writer_hex(w, f[i].addr);
		la_writer_hex(w, f[i].size);
		la_writer_hex(w, f[i].count);
		la_writer_eol(w);
	}
}

static void write_totals(struct la_writer *w, const struct la_snap *s, const struct records *r)
{
	static const char kinds[] = { LA_KIND_DEFINITE, LA_KIND_INDIRECT, LA_KIND_POSSIBLE,
				      LA_KIND_REACHABLE, LA_KIND_UNKNOWN };
	la_writer_tag(w, 'w');
	la_writer_hex(w, s->threads_seen);
	la_writer_hex(w, s->threads_parked);
	la_writer_hex(w, s->threads_unparked);
	la_writer_hex(w, (uint64_t)s->scanned);
	la_writer_eol(w);
	for (size_t k = 0; k < sizeof(kinds); k++) {
		uint64_t bytes = 0, blocks = 0;
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].blocks && r->v[i].kind == kinds[k]) {
				bytes += r->v[i].bytes;
				blocks += r->v[i].blocks;
			}
		char t[4] = { 'n', ' ', kinds[k], 0 };
		la_writer_str(w, t);
		la_writer_hex(w, bytes);
		la_writer_hex(w, blocks);
		la_writer_eol(w);
	}
}

#define MAX_REPORT_FINDINGS 1024

/* A delta report that could not be written gives its blocks their NEW flag
 * back (those since freed are gone; an address allocated again has it
 * anyway), so the mark stays where the last written delta put it. */
static void unmark(const struct la_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (la_snap_flags(&s->blocks[i]) & LA_F_NEW)
			la_table_set_flags(la_snap_addr(&s->blocks[i]), LA_F_NEW);
}

int la_report(const char *trigger, int delta)
{
	static LA_BIG struct la_finding findings[MAX_REPORT_FINDINGS];
	struct la_snap snap = { 0 };
	struct records recs = { 0 }, now = { 0 };
	int rc = -1;

	la_guard++;
	la_lock(&report_lock);
	unsigned seq = ++report_seq;
	la_world_capture_self(strcmp(trigger, "exit") == 0); /* before any frame of the scan exists */

	/* The loader lock first, ours after: never the other way round. Then
	 * the table is frozen (threads that allocate wait on its locks, holding
	 * nothing), the world stopped, scanned and released. */
	la_modules_refresh();
	struct la_scan_prep *prep = la_opt.scan ? la_scan_prepare() : NULL;
	la_table_lock_all();
	int taken = la_snap_take_locked(&snap);
	if (taken == 0 && delta)
		la_table_clear_flags_locked(LA_F_NEW); /* the new mark */
	if (taken == 0 && la_opt.scan) {
		struct la_world world;
		la_world_stop(&world);
		la_scan_run(prep, &snap, &world);
		la_world_resume(&world);
	} else {
		la_scan_discard(prep);
	}
	la_table_unlock_all();
	if (taken < 0) {
		la_warn("out of memory for the report snapshot", NULL);
		goto out;
	}
	size_t nf = la_findings_copy(findings, MAX_REPORT_FINDINGS);
	if (aggregate(&snap, &recs, delta ? ONLY_NEW : ALL) < 0 ||
	    (delta && aggregate(&snap, &now, BY_STACK) < 0)) {
		la_warn("out of memory while aggregating the report", NULL);
		goto out;
	}
	if (la_writer_open(&writer, trigger, seq) < 0)
		goto out;
	write_header(&writer, trigger, seq);
	if (delta) {
		la_writer_tag(&writer, 'd');
		la_writer_hex(&writer, mark_seq);
		la_writer_eol(&writer);
	}
	la_modules_write(&writer);
	struct records named[3] = { recs, now, mark };
	write_stacks(&writer, named, delta ? 3 : 1, findings, nf);
	write_records(&writer, &recs);
	if (delta)
		write_growth(&writer, &now);
	write_findings(&writer, findings, nf);
	write_totals(&writer, &snap, &recs);
	rc = la_writer_commit(&writer);
out:
	if (delta && taken == 0 && rc == 0) {
		free_records(&mark);
		mark = now;
		memset(&now, 0, sizeof(now));
		mark_seq = seq;
	} else if (delta && taken == 0) {
		unmark(&snap); /* not written: the next delta covers this one's blocks */
	}
	free_records(&recs);
	free_records(&now);
	la_snap_free(&snap);
	la_unlock(&report_lock);
	la_unguard();
	return rc;
}
