/* reader.c: the one parser of the raw report format (include/leakagent-raw.h).
 * Strict about the lines it knows, silent about tags it does not (a newer
 * agent may add some), refuses a newer version. A bad file yields one error
 * naming the file and line, and everything that could be read is kept.
 * The file is opened read-only and never modified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "leakagent-raw.h"

#define MAX_FIELDS (LA_MAX_FIELDS_HINT + 8)
#define LA_MAX_FIELDS_HINT 260 /* an s line: id, n and up to 256 pcs */

struct parse {
	struct la_raw *raw;
	unsigned long lineno;
	char *first_error;        /* "line N: why" of the first problem */
	unsigned long nerrors;
	struct la_raw_record *last_rec; /* for b lines */
	char *f[MAX_FIELDS];
	int nf;
};

static void bad(struct parse *ps, const char *fmt, ...) LA_ATTR_PRINTF(2, 3);
static void bad(struct parse *ps, const char *fmt, ...)
{
	if (ps->nerrors++)
		return;
	va_list ap;
	char *why;
	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	va_end(ap);
	ps->first_error = la_xasprintf("line %lu: %s", ps->lineno, why ? why : "?");
	free(why);
}

/* Splits on single spaces, keeping empty fields: an empty string field is
 * written as nothing after its separating space. */
static int split(struct parse *ps, char *line)
{
	ps->nf = 0;
	for (char *p = line;;) {
		if (ps->nf == MAX_FIELDS)
			return -1;
		ps->f[ps->nf++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			return 0;
		*sp = 0;
		p = sp + 1;
	}
}

static int hex(struct parse *ps, int i, uint64_t *v)
{
	const char *s = ps->f[i];
	uint64_t x = 0;
	if (!*s || strlen(s) > 16) {
		bad(ps, "field %d: expected a hexadecimal number, found '%.40s'", i, s);
		return -1;
	}
	for (; *s; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
		if (d < 0) {
			bad(ps, "field %d: expected a hexadecimal number, found '%.40s'", i, ps->f[i]);
			return -1;
		}
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return 0;
}

static int hexu(struct parse *ps, int i, unsigned *v)
{
	uint64_t x;
	if (hex(ps, i, &x) < 0)
		return -1;
	if (x > 0xffffffffu) {
		bad(ps, "field %d: number too large", i);
		return -1;
	}
	*v = (unsigned)x;
	return 0;
}

static int letter(struct parse *ps, int i, const char *allowed, char *out)
{
	const char *s = ps->f[i];
	if (strlen(s) != 1 || !strchr(allowed, s[0])) {
		bad(ps, "field %d: expected one of '%s', found '%.40s'", i, allowed, s);
		return -1;
	}
	*out = s[0];
	return 0;
}

static char *unescape(struct parse *ps, const char *s)
{
	char *d = la_xmalloc(strlen(s) + 1), *o = d;
	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		unsigned v;
		if (!s[1] || !s[2] || sscanf(s + 1, "%2x", &v) != 1 || v == 0) {
			bad(ps, "bad percent escape in '%.40s'", s);
			break;
		}
		*o++ = (char)v;
		s += 2;
	}
	*o = 0;
	return d;
}

static int want(struct parse *ps, int n)
{
	if (ps->nf != n) {
		bad(ps, "'%s' line has %d fields, expected %d", ps->f[0], ps->nf - 1, n - 1);
		return -1;
	}
	return 0;
}

const struct la_raw_stack *la_raw_stack(const struct la_raw *raw, unsigned id)
{
	size_t lo = 0, hi = raw->nstk;
	while (lo < hi) { /* ids are written in increasing order (checked) */
		size_t mid = (lo + hi) / 2;
		if (raw->stk[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < raw->nstk && raw->stk[lo].id == id ? &raw->stk[lo] : NULL;
}

static int stack_known(struct parse *ps, int i, unsigned *id)
{
	if (hexu(ps, i, id) < 0)
		return -1;
	if (*id && !la_raw_stack(ps->raw, *id)) {
		bad(ps, "stack %x is used before its 's' line", *id);
		return -1;
	}
	return 0;
}

static struct la_raw_module *module(struct la_raw *raw, unsigned id)
{
	for (size_t i = 0; i < raw->nmod; i++)
		if (raw->mod[i].id == id)
			return &raw->mod[i];
	return NULL;
}

static void line_m(struct parse *ps)
{
	struct la_raw *raw = ps->raw;
	struct la_raw_module m = { 0 };
	if (want(ps, 6) < 0 || hexu(ps, 1, &m.id) < 0 || hex(ps, 2, &m.bias) < 0 ||
	    letter(ps, 3, "LU", &m.state) < 0)
		return;
	if (module(raw, m.id)) {
		bad(ps, "module %x defined twice", m.id);
		return;
	}
	const char *bid = ps->f[4];
	if (strcmp(bid, "-") != 0) {
		size_t n = strlen(bid);
		if (n < 2 || n % 2 || n > 128 || strspn(bid, "0123456789abcdef") != n) {
			bad(ps, "module %x: bad build-id '%.40s'", m.id, bid);
			return;
		}
		m.build_id = la_xstrdup(bid);
	}
	m.path = unescape(ps, ps->f[5]);
	LA_GROW(raw->mod, raw->nmod, raw->modcap);
	raw->mod[raw->nmod++] = m;
}

static void line_l(struct parse *ps)
{
	unsigned id;
	uint64_t vaddr, memsz;
	if (want(ps, 5) < 0 || hexu(ps, 1, &id) < 0 || hex(ps, 2, &vaddr) < 0 ||
	    hex(ps, 3, &memsz) < 0)
		return;
	struct la_raw_module *m = module(ps->raw, id);
	if (!m) {
		bad(ps, "segment of undefined module %x", id);
		return;
	}
	if (m->nload == (int)(sizeof(m->load) / sizeof(m->load[0])))
		return; /* more segments than any real object has: the first ones suffice */
	m->load[m->nload].vaddr = vaddr;
	m->load[m->nload++].memsz = memsz;
}

static void line_s(struct parse *ps)
{
	struct la_raw *raw = ps->raw;
	unsigned id, n;
	if (ps->nf < 3 || hexu(ps, 1, &id) < 0 || hexu(ps, 2, &n) < 0)
		return;
	if (id == 0 || (raw->nstk && raw->stk[raw->nstk - 1].id >= id)) {
		bad(ps, "stack id %x out of order (ids start at 1 and increase)", id);
		return;
	}
	if ((unsigned)ps->nf != n + 3) {
		bad(ps, "stack %x announces %u addresses but has %d", id, n, ps->nf - 3);
		return;
	}
	struct la_raw_stack s = { id, la_xmalloc(n * sizeof(uint64_t)), n };
	for (unsigned i = 0; i < n; i++)
		if (hex(ps, 3 + (int)i, &s.pc[i]) < 0) {
			free(s.pc);
			return;
		}
	LA_GROW(raw->stk, raw->nstk, raw->stkcap);
	raw->stk[raw->nstk++] = s;
}

static void line_r(struct parse *ps)
{
	struct la_raw *raw = ps->raw;
	struct la_raw_record r = { 0 };
	ps->last_rec = NULL;
	if (want(ps, 9) < 0 || letter(ps, 1, "DIPRU", &r.kind) < 0 ||
	    letter(ps, 2, "mna", &r.fam) < 0 || letter(ps, 3, "-i", &r.origin) < 0 ||
	    stack_known(ps, 4, &r.stack) < 0 || hex(ps, 5, &r.bytes) < 0 ||
	    hex(ps, 6, &r.blocks) < 0 || hex(ps, 7, &r.ibytes) < 0 || hex(ps, 8, &r.iblocks) < 0)
		return;
	LA_GROW(raw->rec, raw->nrec, raw->reccap);
	raw->rec[raw->nrec] = r;
	ps->last_rec = &raw->rec[raw->nrec++];
}

static void line_b(struct parse *ps)
{
	uint64_t addr, size;
	if (want(ps, 3) < 0 || hex(ps, 1, &addr) < 0 || hex(ps, 2, &size) < 0)
		return;
	struct la_raw_record *r = ps->last_rec;
	if (!r) {
		bad(ps, "'b' line without a preceding 'r' line");
		return;
	}
	if (r->nlargest == LA_RAW_LARGEST) {
		bad(ps, "more than %d 'b' lines for one record", LA_RAW_LARGEST);
		return;
	}
	r->largest_addr[r->nlargest] = addr;
	r->largest_size[r->nlargest++] = size;
}

static void line_f(struct parse *ps)
{
	struct la_raw *raw = ps->raw;
	struct la_raw_finding f = { 0 };
	if (want(ps, 9) < 0)
		return;
	if (strcmp(ps->f[1], "mismatch") == 0)
		f.what = 'm';
	else if (strcmp(ps->f[1], "invalid") == 0)
		f.what = 'v';
	else {
		bad(ps, "unknown finding '%.40s'", ps->f[1]);
		return;
	}
	if (letter(ps, 2, "mna-", &f.afam) < 0 || letter(ps, 3, "mna", &f.ffam) < 0 ||
	    stack_known(ps, 4, &f.astack) < 0 || stack_known(ps, 5, &f.fstack) < 0 ||
	    hex(ps, 6, &f.addr) < 0 || hex(ps, 7, &f.size) < 0 || hex(ps, 8, &f.count) < 0)
		return;
	LA_GROW(raw->fin, raw->nfin, raw->fincap);
	raw->fin[raw->nfin++] = f;
}

/* a signed hex field: a leading '-' marks a decrease */
static int shex(struct parse *ps, int i, int64_t *v)
{
	bool neg = ps->f[i][0] == '-';
	uint64_t x;
	if (neg)
		ps->f[i]++;
	if (hex(ps, i, &x) < 0)
		return -1;
	if (x > INT64_MAX) {
		bad(ps, "field %d: number too large", i);
		return -1;
	}
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

static void line_g(struct parse *ps)
{
	struct la_raw *raw = ps->raw;
	struct la_raw_growth g = { 0 };
	if (want(ps, 6) < 0 || letter(ps, 1, "DIPRU", &g.kind) < 0 ||
	    letter(ps, 2, "mna", &g.fam) < 0 || stack_known(ps, 3, &g.stack) < 0 ||
	    shex(ps, 4, &g.dbytes) < 0 || shex(ps, 5, &g.dblocks) < 0)
		return;
	LA_GROW(raw->grow, raw->ngrow, raw->growcap);
	raw->grow[raw->ngrow++] = g;
}

static void line_known(struct parse *ps, char tag)
{
	struct la_raw *raw = ps->raw;
	uint64_t v[4];
	unsigned idx;
	char k;
	switch (tag) {
	case 'p':
		if (want(ps, 3) == 0 && hex(ps, 1, &v[0]) == 0 && hex(ps, 2, &v[1]) == 0) {
			raw->pid = (long)v[0];
			raw->ppid = (long)v[1];
		}
		break;
	case 'c':
		if (want(ps, 2) == 0 && hex(ps, 1, &v[0]) == 0)
			raw->forked_from = (long)v[0];
		break;
	case 'x':
		if (want(ps, 2) == 0)
			raw->exe = unescape(ps, ps->f[1]);
		break;
	case 'a':
		if (want(ps, 3) == 0 && hexu(ps, 1, &idx) == 0) {
			if (idx != raw->argc) {
				bad(ps, "argument %u out of order", idx);
				break;
			}
			LA_GROW(raw->argv, raw->argc, raw->argcap);
			raw->argv[raw->argc++] = unescape(ps, ps->f[2]);
		}
		break;
	case 't':
		if (want(ps, 5) == 0 && hexu(ps, 2, &raw->seq) == 0 && hex(ps, 3, &raw->sec) == 0 &&
		    hex(ps, 4, &raw->nsec) == 0)
			raw->trigger = unescape(ps, ps->f[1]);
		break;
	case 'k':
		if (want(ps, 2) == 0 && hexu(ps, 1, &idx) == 0) {
			if (idx == 0 || idx > 64)
				bad(ps, "signal %u out of range", idx);
			else
				raw->fatal_signal = (int)idx;
		}
		break;
	case 'o':
		if (ps->nf < 3)
			bad(ps, "'o' line needs a name and a value");
		break;
	case 'm': line_m(ps); break;
	case 'l': line_l(ps); break;
	case 's': line_s(ps); break;
	case 'r': line_r(ps); return; /* keeps last_rec */
	case 'b': line_b(ps); return;
	case 'g': line_g(ps); break;
	case 'd':
		if (want(ps, 2) == 0 && hexu(ps, 1, &idx) == 0) {
			raw->delta = true;
			raw->base_seq = idx;
		}
		break;
	case 'f': line_f(ps); break;
	case 'w':
		if (want(ps, 5) == 0 && hex(ps, 1, &v[0]) == 0 && hex(ps, 2, &v[1]) == 0 &&
		    hex(ps, 3, &v[2]) == 0 && hex(ps, 4, &v[3]) == 0) {
			if (v[3] > 1) {
				bad(ps, "'w' line: scanned must be 0 or 1");
				break;
			}
			raw->have_w = true;
			raw->w_seen = v[0];
			raw->w_parked = v[1];
			raw->w_unparked = v[2];
			raw->scanned = v[3] == 1;
		}
		break;
	case 'n': /* totals: recomputed from the records, only checked here */
		if (want(ps, 4) == 0 && letter(ps, 1, "DIPRU", &k) == 0 && hex(ps, 2, &v[0]) == 0)
			hex(ps, 3, &v[1]);
		break;
	}
	ps->last_rec = NULL;
}

static int header(struct parse *ps, char *line)
{
	struct la_raw *raw = ps->raw;
	size_t ml = strlen(LA_RAW_MAGIC);
	if (strncmp(line, LA_RAW_MAGIC, ml) != 0 || line[ml] != ' ') {
		la_error(raw->path, NULL, "not a leakagent raw report (first line is not '%s <version>')",
			 LA_RAW_MAGIC);
		return -1;
	}
	uint64_t v;
	split(ps, line + ml + 1);
	if (ps->nf != 1 || hex(ps, 0, &v) < 0 || v == 0) {
		la_error(raw->path, NULL, "line 1: bad version '%.40s'", line + ml + 1);
		return -1;
	}
	if (v > LA_RAW_VERSION) {
		la_error(raw->path, "upgrade leakagent to read it",
			 "report format version %llu is newer than this leakagent reads (%d)",
			 (unsigned long long)v, LA_RAW_VERSION);
		return -1;
	}
	raw->version = (unsigned)v;
	return 0;
}

int la_raw_read(const char *path, struct la_raw *raw)
{
	struct parse ps = { .raw = raw };
	memset(raw, 0, sizeof(*raw));
	raw->path = path;
	FILE *fp = fopen(path, "re");
	if (!fp) {
		la_error(path, NULL, "cannot open: %s", strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool ended = false, cut = false;
	int rc = 0;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		ps.lineno++;
		if (len == 0 || line[len - 1] != '\n') {
			bad(&ps, "last line is cut short: the file is truncated");
			cut = true;
			break;
		}
		line[len - 1] = 0;
		if (memchr(line, 0, (size_t)len - 1)) {
			bad(&ps, "NUL byte in a line (the file is not text)");
			continue;
		}
		if (ps.lineno == 1) {
			if (header(&ps, line) < 0) {
				rc = -1;
				goto out;
			}
			continue;
		}
		if (ended) {
			bad(&ps, "data after the end line");
			break;
		}
		if (line[0] == 0 || (line[1] != ' ' && line[1] != 0)) {
			continue; /* not a one-letter tag: a newer agent's line, skipped */
		}
		if (split(&ps, line) < 0) {
			bad(&ps, "too many fields");
			continue;
		}
		if (line[0] == 'e') {
			uint64_t n;
			if (want(&ps, 2) == 0 && hex(&ps, 1, &n) == 0) {
				if (n != ps.lineno - 1)
					bad(&ps, "end line counts %llu lines before it, the file has %lu",
					    (unsigned long long)n, ps.lineno - 1);
				else
					raw->complete = true;
			}
			ended = true;
			continue;
		}
		if (strchr("pcxatkomlsrbgdfwn", line[0]))
			line_known(&ps, line[0]);
	}
	if (ferror(fp)) {
		la_error(path, NULL, "cannot read%s: %s", ps.lineno ? " all of it" : "",
			 strerror(errno));
		rc = -1;
		goto out;
	}
	if (ps.lineno == 0) {
		la_error(path, NULL, "empty file, not a leakagent raw report");
		rc = -1;
		goto out;
	}
	if (!ended && !cut)
		bad(&ps, "truncated: no end line (the program may have died while writing it)");
	if (ps.nerrors) {
		if (ps.nerrors > 1)
			la_error(path, NULL, "%s (and %lu more problem%s)", ps.first_error,
				 ps.nerrors - 1, ps.nerrors > 2 ? "s" : "");
		else
			la_error(path, NULL, "%s", ps.first_error);
		rc = -1;
	}
out:
	free(ps.first_error);
	free(line);
	fclose(fp);
	return rc;
}
