/* suppress.c: suppressions users already have, accepted as they are:
 * valgrind .supp entries (Memcheck:Leak, fun:/obj:/src: frames with * and ?
 * globs, "..." for any frames, match-leak-kinds) and LeakSanitizer leak:
 * lines (substring match with *, ^ and $ anchors, against each frame's module,
 * function and file), and the built-in default.supp (glibc's and ld.so's own
 * lifetime allocations, which memcheck frees at exit). Records and a delta report's growth entries are
 * matched alike. Also writes valgrind-format entries (--gen-suppressions).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static struct la_supp **supps;
static size_t nsupps, suppscap;

/* Valgrind's stack starts in the allocator (fun:malloc, fun:_Znwm); the
 * agent's starts at its caller. A first pattern line is matched against the
 * allocator frame valgrind would show: any entry point of the block's family,
 * since the raw report names the family, not the function. */
static const char *const alloc_fns[3][9] = {
	{ "malloc", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
	  "aligned_alloc", "valloc", "pvalloc" },
	{ "_Znwm", "_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_t",
	  "_ZnwmSt11align_val_tRKSt9nothrow_t" },
	{ "_Znam", "_ZnamRKSt9nothrow_t", "_ZnamSt11align_val_t",
	  "_ZnamSt11align_val_tRKSt9nothrow_t" },
};
static const char *const alloc_objs[] = {
	"/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so",
	"/usr/lib/x86_64-linux-gnu/valgrind/vgpreload_memcheck-amd64-linux.so",
};

/* glob with '*' (any run) and, when q, '?' (any one character) */
static bool glob(const char *p, const char *s, bool q)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			if (!p[1])
				return true;
			for (; *s; s++)
				if (glob(p + 1, s, q))
					return true;
			return false;
		}
		if (!*s || (*p != *s && !(q && *p == '?')))
			return false;
	}
	return !*s;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

static struct la_supp *add(const char *file, int line, const char *name, bool lsan)
{
	struct la_supp *s = la_xmalloc(sizeof(*s));
	s->file = file;
	s->line = line;
	s->name = la_xstrdup(name);
	s->lsan = lsan;
	s->kinds = LA_KINDS_ALL;
	LA_GROW(supps, nsupps, suppscap);
	supps[nsupps++] = s;
	return s;
}

static void add_pat(struct la_supp *s, const char *p, size_t *cap)
{
	LA_GROW(s->pat, s->npat, *cap);
	s->pat[s->npat++] = la_xstrdup(p);
}

static int kinds_of(const char *list, unsigned *mask)
{
	char *l = la_xstrdup(list), *o = l;
	for (char *p = l; *p; p++) /* "definite, possible" is accepted too */
		if (*p != ' ')
			*o++ = *p;
	*o = 0;
	int rc = la_kind_parse_list(l, mask);
	free(l);
	return rc;
}

static int load(FILE *fp, const char *path, bool builtin);

int la_supp_load(const char *path)
{
	FILE *fp = fopen(path, "re");
	if (!fp) {
		la_error(path, NULL, "cannot read the suppressions: %s", strerror(errno));
		return -1;
	}
	return load(fp, path, false);
}

/* default.supp, embedded by meson (embed.py) */
extern const char la_default_supp[];

int la_supp_load_default(void)
{
	FILE *fp = fmemopen((void *)la_default_supp, strlen(la_default_supp), "r");
	if (!fp) {
		la_error(LA_DEFAULT_SUPP, NULL, "cannot read the suppressions: %s", strerror(errno));
		return -1;
	}
	return load(fp, LA_DEFAULT_SUPP, true);
}

static int load(FILE *fp, const char *path, bool builtin)
{
	size_t first = nsupps;
	char *buf = NULL, *why = NULL;
	size_t cap = 0, patcap = 0;
	int lineno = 0, state = 0; /* 0 outside, 1 name, 2 kind, 3 frames */
	struct la_supp *cur = NULL;
	bool skip = false;         /* an entry for another tool or error kind */
	while (!why && getline(&buf, &cap, fp) >= 0) {
		lineno++;
		char *l = trim(buf);
		if (!*l || *l == '#')
			continue;
		switch (state) {
		case 0:
			if (!strcmp(l, "{")) {
				state = 1;
			} else if (!strncmp(l, "leak:", 5)) {
				struct la_supp *s = add(path, lineno, l + 5, true);
				add_pat(s, l + 5, &patcap);
				patcap = 0;
			} else if (!strchr(l, ':') ||
				   (strchr(l, ' ') && strchr(l, ' ') < strchr(l, ':'))) {
				why = la_xasprintf("line %d: expected '{' or 'leak:PATTERN', found '%.60s'",
						   lineno, l);
			} /* other sanitizers' types (race:, ...) share the file: ignored */
			break;
		case 1:
			cur = add(path, lineno, l, false);
			patcap = 0;
			state = 2;
			break;
		case 2: {
			char *colon = strchr(l, ':');
			if (!colon) {
				why = la_xasprintf("line %d: expected TOOL:KIND such as Memcheck:Leak, "
						   "found '%.60s'", lineno, l);
				break;
			}
			*colon = 0;
			skip = !strstr(l, "Memcheck") || strcmp(colon + 1, "Leak") != 0;
			state = 3;
			break;
		}
		case 3:
			if (!strcmp(l, "}")) {
				if (skip)
					supps[--nsupps] = NULL; /* kept out of matching and of "unused" */
				state = 0;
			} else if (!strncmp(l, "match-leak-kinds:", 17) && cur->npat == 0) {
				if (kinds_of(trim(l + 17), &cur->kinds) < 0 &&
				    strcmp(trim(l + 17), "none") != 0)
					why = la_xasprintf("line %d: bad match-leak-kinds '%.60s'", lineno,
							   l + 17);
			} else if (!strcmp(l, "...") || !strncmp(l, "fun:", 4) ||
				   !strncmp(l, "obj:", 4) || !strncmp(l, "src:", 4)) {
				add_pat(cur, l, &patcap);
			} else if (!skip) {
				why = la_xasprintf("line %d: expected fun:, obj:, src:, ... or '}', "
						   "found '%.60s'", lineno, l);
			}
			break;
		}
	}
	if (!why && state)
		why = la_xasprintf("line %d: entry not closed by '}'", lineno);
	free(buf);
	fclose(fp);
	for (size_t i = first; i < nsupps; i++)
		supps[i]->builtin = builtin;
	if (why) {
		la_error(path, NULL, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

static bool frame_match(const char *pat, const struct la_frame *f, int fam, bool first)
{
	const char *v = pat + 4;
	if (first && fam >= 0) { /* the allocator frame valgrind would show */
		if (!strncmp(pat, "fun:", 4)) {
			for (int i = 0; i < 9 && alloc_fns[fam][i]; i++)
				if (glob(v, alloc_fns[fam][i], true))
					return true;
		} else if (!strncmp(pat, "obj:", 4)) {
			for (size_t i = 0; i < sizeof(alloc_objs) / sizeof(alloc_objs[0]); i++)
				if (glob(v, alloc_objs[i], true))
					return true;
		}
		return false;
	}
	if (!strncmp(pat, "fun:", 4))
		return glob(v, f->fun ? f->fun : "???", true);
	if (!strncmp(pat, "obj:", 4))
		return glob(v, f->obj ? f->obj : "???", true);
	/* src:file or src:file:line */
	if (!f->src)
		return false;
	const char *colon = strrchr(v, ':');
	char *file = colon ? strndup(v, (size_t)(colon - v)) : la_xstrdup(v);
	bool ok = (glob(file, f->src, true) || glob(file, la_src_base(f->src), true)) &&
		  (!colon || atoi(colon + 1) == f->line);
	free(file);
	return ok;
}

/* pattern lines p[0..np) against frames: position -1 is the allocator */
static bool match_from(const struct la_supp *s, size_t pi, const struct la_stack *st, long fi,
		       int fam)
{
	if (pi == s->npat)
		return true;
	if (!strcmp(s->pat[pi], "...")) {
		for (long k = fi; k <= (long)st->n; k++)
			if (match_from(s, pi + 1, st, k, fam))
				return true;
		return false;
	}
	if (fi >= (long)st->n)
		return false;
	const struct la_frame *f = fi >= 0 ? &st->f[fi] : NULL;
	return frame_match(s->pat[pi], f, fam, fi < 0) && match_from(s, pi + 1, st, fi + 1, fam);
}

static bool lsan_match(const char *tmpl, const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(tmpl);
	bool start = tmpl[0] == '^', end = n > 0 && tmpl[n - 1] == '$' && !(start && n == 1);
	char *g = la_xasprintf("%s%.*s%s", start ? "" : "*", (int)(n - start - end), tmpl + start,
			       end ? "" : "*");
	bool ok = glob(g, s, false);
	free(g);
	return ok;
}

/* Whether s matches blocks of (kind, family) allocated at st: a record's or
 * a growth entry's key, so both are matched by the same rules. */
static bool matches(const struct la_supp *s, enum la_kind kind, char family,
		    const struct la_stack *st)
{
	/* an unclassified block's true kind is unknown: any kind list may apply */
	if (kind == LA_UNCLASSIFIED ? !s->kinds : !(s->kinds & LA_KIND_BIT(kind)))
		return false;
	if (s->lsan) {
		for (size_t i = 0; i < st->n; i++) {
			const struct la_frame *f = &st->f[i];
			if (lsan_match(s->pat[0], f->obj ? f->obj : "<unknown module>") ||
			    lsan_match(s->pat[0], f->fn) || lsan_match(s->pat[0], f->src))
				return true;
		}
		return false;
	}
	int fam = family == 'm' ? 0 : family == 'n' ? 1 : family == 'a' ? 2 : 0;
	return match_from(s, 0, st, -1, fam);
}

/* the first suppression, in load order, that matches; counted as used */
static struct la_supp *first_match(enum la_kind kind, char family, const struct la_stack *st)
{
	for (size_t j = 0; j < nsupps; j++)
		if (matches(supps[j], kind, family, st)) {
			supps[j]->used++;
			return supps[j];
		}
	return NULL;
}

void la_supp_apply(struct la_leakset *ls)
{
	for (size_t i = 0; i < ls->nproc; i++) {
		struct la_process *p = &ls->proc[i];
		for (size_t k = 0; k < p->nrec; k++) {
			struct la_record *r = &p->rec[k];
			struct la_supp *s = first_match(r->kind, r->family, &r->stack);
			if (s) {
				r->suppressed_by = s;
				s->used_bytes += r->bytes;
				s->used_blocks += r->blocks;
			}
		}
		/* growth is a change, not outstanding blocks: counted apart from
		 * the bytes and blocks a suppression hid */
		for (size_t k = 0; k < p->ngrow; k++) {
			struct la_growth *g = &p->grow[k];
			struct la_supp *s = first_match(g->kind, g->family, &g->stack);
			if (s) {
				g->suppressed_by = s;
				s->used_growth++;
			}
		}
	}
}

size_t la_supp_unused(const struct la_supp ***out)
{
	static const struct la_supp **un;
	size_t n = 0;
	un = la_xrealloc(un, (nsupps + 1) * sizeof(*un));
	for (size_t i = 0; i < nsupps; i++)
		if (!supps[i]->used && !supps[i]->builtin)
			un[n++] = supps[i];
	*out = un;
	return n;
}

size_t la_supp_all(const struct la_supp *const **out)
{
	*out = (const struct la_supp *const *)supps;
	return nsupps;
}

char *la_supp_generate(enum la_kind kind, char family, const struct la_stack *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fputs("{\n   <insert_a_suppression_name_here>\n   Memcheck:Leak\n", f);
	if (kind != LA_UNCLASSIFIED)
		fprintf(f, "   match-leak-kinds: %s\n", la_kind_name(kind));
	fprintf(f, "   fun:%s\n", family == 'n' ? "_Znwm" : family == 'a' ? "_Znam" : "malloc");
	for (size_t i = 0; i < st->n && i < 23; i++) { /* valgrind reads 24 lines at most */
		const struct la_frame *fr = &st->f[i];
		if (fr->fun)
			fprintf(f, "   fun:%s\n", fr->fun);
		else if (fr->obj)
			fprintf(f, "   obj:%s\n", fr->obj);
		else
			fputs("   fun:*\n", f);
		/* valgrind's stacks end at main (--show-below-main=no): an entry
		 * naming the frames below it would never match there */
		if (fr->fun && !fr->inlined && !strcmp(fr->fun, "main"))
			break;
	}
	fputs("}\n", f);
	fclose(f);
	return buf;
}
