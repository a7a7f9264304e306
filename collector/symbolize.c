/* symbolize.c: recorded addresses to functions, source lines and inline
 * chains, with elfutils (libdwfl/libdw). One Dwfl per module file, keyed by
 * path and build-id, so children and repeated reports share the work; one
 * cache of symbolized addresses per module file. A file is trusted only when
 * its build-id matches the one recorded; otherwise (or when it is missing) a
 * debug file with that build-id is used, and failing that frames fall back to
 * module+offset with one error naming the file.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_DEBUGINFOD
#include <elfutils/debuginfod.h>
#endif

#include "collector.h"

/* libstdc++'s demangler, declared here so this stays a C file */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct entry {
	uint64_t off; /* offset + 1, so 0 marks a free slot */
	struct la_stack frames;
};

struct sym {
	GElf_Addr lo, hi;     /* hi == lo: size unknown */
	const char *name;     /* owned by libdwfl's ELF data */
};

struct symfile {
	char *path, *build_id;
	char *shown;          /* the path frames show: the file's real path, as memcheck */
	Dwfl *dwfl;
	Dwfl_Module *mod;     /* NULL: nothing to symbolize with */
	struct sym *syms;     /* function symbols sorted by address, built once */
	size_t nsyms;
	bool syms_read;
	struct entry *tab;    /* open addressing, cap a power of two */
	size_t n, cap;
};

static struct symfile **files;
static size_t nfiles, filescap, nlookups;
static char *sysroot;
static char *debuginfo_path;
static char **debug_dirs; /* absolute; for lookups by build-id */
static size_t ndebug_dirs;

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	/* build-id under each debug dir, then .gnu_debuglink; libdwfl asks
	 * debuginfod itself, and only when DEBUGINFOD_URLS is set */
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static void add_debug_dir(const char *d)
{
	char *abs = realpath(d, NULL);
	debug_dirs = la_xrealloc(debug_dirs, (ndebug_dirs + 1) * sizeof(*debug_dirs));
	debug_dirs[ndebug_dirs++] = abs ? abs : la_xstrdup(d);
}

void la_sym_init(const struct la_sym_options *o)
{
	if (o->sysroot && o->sysroot[0]) {
		sysroot = realpath(o->sysroot, NULL);
		if (!sysroot)
			sysroot = la_xstrdup(o->sysroot);
	}
	for (size_t i = 0; i < o->ndebug_dirs; i++)
		add_debug_dir(o->debug_dirs[i]);
	char *sysdebug = la_xasprintf("%s/usr/lib/debug", sysroot ? sysroot : "");
	add_debug_dir(sysdebug);
	/* libdwfl's path: absolute dirs first, then "" (the file's own dir) and
	 * ".debug" (a subdir of it), where .gnu_debuglink targets usually are */
	size_t len = 16;
	for (size_t i = 0; i < ndebug_dirs; i++)
		len += strlen(debug_dirs[i]) + 1;
	debuginfo_path = la_xmalloc(len);
	for (size_t i = 0; i < ndebug_dirs; i++) {
		strcat(debuginfo_path, debug_dirs[i]);
		strcat(debuginfo_path, ":");
	}
	strcat(debuginfo_path, ":.debug");
	free(sysdebug);
}

size_t la_sym_count(void)
{
	return nlookups;
}

static char *hexstr(const unsigned char *b, int n)
{
	char *s = la_xmalloc((size_t)n * 2 + 1);
	for (int i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static Dwfl_Module *report(struct symfile *sf, const char *file)
{
	if (sf->dwfl)
		dwfl_end(sf->dwfl);
	sf->dwfl = dwfl_begin(&callbacks);
	if (!sf->dwfl)
		return NULL;
	dwfl_report_begin(sf->dwfl);
	/* Reported at base 0: lookups use offsets from the load bias, which are
	 * the file's own addresses (for ET_EXEC the bias is 0 and base ignored),
	 * so one Dwfl serves every process that loaded the file anywhere. */
	Dwfl_Module *m = dwfl_report_elf(sf->dwfl, sf->path, file, -1, 0, false);
	dwfl_report_end(sf->dwfl, NULL, NULL);
	return m;
}

static char *file_build_id(Dwfl_Module *m)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(m, &bits, &vaddr);
	return n > 0 ? hexstr(bits, n) : NULL;
}

/* A debug file carries the symbols and DWARF of its binary: when the binary
 * is gone or replaced, one with the recorded build-id symbolizes it exactly. */
static char *find_by_build_id(const char *bid)
{
	for (size_t i = 0; i < ndebug_dirs; i++) {
		char *p = la_xasprintf("%s/.build-id/%.2s/%s.debug", debug_dirs[i], bid, bid + 2);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
#ifdef HAVE_DEBUGINFOD
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (urls && *urls) {
		debuginfod_client *c = debuginfod_begin();
		char *path = NULL;
		int fd = c ? debuginfod_find_debuginfo(c, (const unsigned char *)bid, 0, &path) : -1;
		if (c)
			debuginfod_end(c);
		if (fd >= 0) {
			close(fd);
			return path;
		}
	}
#endif
	return NULL;
}

static void open_file(struct symfile *sf)
{
	const char *why = NULL;
	char *disk_bid = NULL;
	if (sf->path[0] != '/')
		return; /* linux-vdso.so.1 and the like: no file, module+offset */
	char *file = la_xasprintf("%s%s", sysroot ? sysroot : "", sf->path);
	int err = access(file, R_OK) == 0 ? 0 : errno;
	char *real = err ? NULL : realpath(file, NULL);
	size_t skip = sysroot ? strlen(sysroot) : 0;
	if (real && strncmp(real, file, skip) == 0 && real[skip] == '/') {
		sf->shown = la_xstrdup(real + skip);
	}
	free(real);
	if (!err) {
		sf->mod = report(sf, file);
		if (!sf->mod)
			why = la_xasprintf("cannot read it as ELF: %s", dwfl_errmsg(-1));
	} else {
		why = la_xasprintf("cannot open %s: %s", file, strerror(err));
	}
	if (sf->mod && sf->build_id) {
		disk_bid = file_build_id(sf->mod);
		if (!disk_bid || strcmp(disk_bid, sf->build_id) != 0) {
			why = la_xasprintf("replaced since the run: build-id %s recorded, %s on disk",
					   sf->build_id, disk_bid ? disk_bid : "none");
			dwfl_end(sf->dwfl);
			sf->dwfl = NULL;
			sf->mod = NULL;
		}
	}
	if (why && sf->build_id) {
		char *dbg = find_by_build_id(sf->build_id);
		if (dbg && (sf->mod = report(sf, dbg))) {
			la_warning(sf->path, "%s; symbolized from %s, which has the recorded build-id",
				   why, dbg);
			free(dbg);
			goto out;
		}
		free(dbg);
	}
	if (why)
		la_error(sf->path, err == ENOENT && !sysroot
				       ? "a report from another machine needs --sysroot or --debug-dir"
				       : NULL,
			 "%s; its frames show module+offset", why);
out:
	free(disk_bid);
	free(file);
}

static struct symfile *symfile(const struct la_raw_module *m)
{
	for (size_t i = nfiles; i-- > 0;) {
		struct symfile *sf = files[i];
		if (strcmp(sf->path, m->path) == 0 &&
		    (sf->build_id ? m->build_id && strcmp(sf->build_id, m->build_id) == 0
				  : !m->build_id))
			return sf;
	}
	struct symfile *sf = la_xmalloc(sizeof(*sf));
	sf->path = la_xstrdup(m->path);
	sf->shown = sf->path;
	sf->build_id = m->build_id ? la_xstrdup(m->build_id) : NULL;
	open_file(sf);
	LA_GROW(files, nfiles, filescap);
	files[nfiles++] = sf;
	return sf;
}

static const char *demangle(const char *name)
{
	if (!name)
		return NULL;
	if (name[0] == '_' && name[1] == 'Z') {
		int status;
		char *d = __cxa_demangle(name, NULL, NULL, &status);
		if (d && status == 0)
			return d;
		free(d);
	}
	return la_xstrdup(name);
}

/* .symtab names may carry a version: __libc_start_main@@GLIBC_2.34 */
static const char *unversioned(const char *name)
{
	if (!name)
		return NULL;
	const char *at = strchr(name, '@');
	return at ? strndup(name, (size_t)(at - name)) : la_xstrdup(name);
}

/* "/a/build/../src/x.c" -> "/a/src/x.c", lexically: the file may not exist
 * here, and valgrind shows sources the same way */
static char *normalize(char *p)
{
	char *o = p;
	for (char *s = p; *s;) {
		if (s[0] == '/' && s[1] == '.' && (s[2] == '/' || !s[2])) {
			s += 2;
		} else if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || !s[3]) && o > p) {
			while (o > p && *--o != '/')
				;
			s += 3;
		} else if (s[0] == '/' && s[1] == '/') {
			s++;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return p;
}

/* DWARF names a source relative to its unit's build directory unless absolute */
static const char *join_src(const char *comp_dir, const char *name)
{
	if (!name)
		return NULL;
	if (name[0] == '/' || !comp_dir || !comp_dir[0])
		return normalize(la_xstrdup(name));
	return normalize(la_xasprintf("%s/%s", comp_dir, name));
}

static const char *comp_dir_of(Dwarf_Die *cu)
{
	Dwarf_Attribute a;
	return dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
}

static const char *die_src(Dwarf_Die *cu, Dwarf_Die *die, int *line, int *col)
{
	Dwarf_Attribute a;
	Dwarf_Word idx = 0, w;
	Dwarf_Files *fl;
	size_t nfl;
	*line = *col = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &w) == 0)
		*line = (int)w;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_column, &a), &w) == 0)
		*col = (int)w;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx) != 0 ||
	    dwarf_getsrcfiles(cu, &fl, &nfl) != 0 || idx >= nfl)
		return NULL;
	return join_src(comp_dir_of(cu), dwarf_filesrc(fl, idx, NULL, NULL));
}

static const char *die_name(Dwarf_Die *die, bool linkage)
{
	Dwarf_Attribute a;
	const char *s = NULL;
	if (linkage)
		s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	return s ? s : dwarf_diename(die);
}

struct chain {
	Dwarf_Die *v;
	size_t n, cap;
};

/* Appends the function scopes below die that hold addr, outermost first.
 * Enters only DIEs whose ranges hold addr, and namespaces (no ranges of
 * their own, but they hold functions). */
static bool descend(Dwarf_Die *die, Dwarf_Addr addr, struct chain *c)
{
	Dwarf_Die child;
	if (dwarf_child(die, &child) != 0)
		return false;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_namespace:
		case DW_TAG_module:
			if (descend(&child, addr, c))
				return true;
			break;
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
			if (dwarf_haspc(&child, addr) > 0) {
				LA_GROW(c->v, c->n, c->cap);
				c->v[c->n++] = child;
				descend(&child, addr, c);
				return true;
			}
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			if (dwarf_haspc(&child, addr) > 0) {
				descend(&child, addr, c);
				return true;
			}
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* The chain of inlined calls at addr, innermost first, ending with the
 * subprogram that holds them: one descent from the unit's DIE. (What
 * eu-addr2line -i does, dwarf_getscopes then dwarf_getscopes_die, visits
 * the whole unit twice per address: three times slower on libc.) */
static int inline_chain(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *cu, Dwarf_Die **out)
{
	Dwarf_Addr bias;
	Dwarf_Die *c = dwfl_module_addrdie(mod, addr, &bias);
	struct chain ch = { 0 };
	*out = NULL;
	if (!c)
		return 0;
	*cu = *c;
	descend(c, addr - bias, &ch);
	for (size_t i = 0; i < ch.n / 2; i++) {
		Dwarf_Die t = ch.v[i];
		ch.v[i] = ch.v[ch.n - 1 - i];
		ch.v[ch.n - 1 - i] = t;
	}
	*out = ch.v;
	return (int)ch.n;
}

/* Aliases of one address are named as memcheck names them, so reports and
 * valgrind suppressions agree (fun:strdup, not __strdup): the shortest name
 * not counting a version suffix, then a versioned one, then alphabetical. */
static int by_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	size_t lx = strcspn(x->name, "@"), ly = strcspn(y->name, "@");
	if (lx != ly)
		return lx < ly ? -1 : 1;
	int vx = x->name[lx] == '@', vy = y->name[ly] == '@';
	if (vx != vy)
		return vy - vx;
	return strcmp(x->name, y->name);
}

/* libdwfl's address-to-symbol lookup scans the whole symbol table on every
 * call (libc: ~10 000 symbols, 70% of the time for 10k frames); sorting the
 * function symbols once per module makes each lookup a binary search. */
static void read_syms(struct symfile *sf)
{
	sf->syms_read = true;
	int n = dwfl_module_getsymtab(sf->mod);
	if (n <= 0)
		return;
	sf->syms = la_xmalloc((size_t)n * sizeof(*sf->syms));
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(sf->mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !*name || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		sf->syms[sf->nsyms++] = (struct sym){ addr, addr + sym.st_size, name };
	}
	qsort(sf->syms, sf->nsyms, sizeof(*sf->syms), by_addr);
}

static const char *sym_name(struct symfile *sf, GElf_Addr a)
{
	if (!sf->syms_read)
		read_syms(sf);
	size_t lo = 0, hi = sf->nsyms;
	while (lo < hi) { /* first symbol starting above a */
		size_t mid = (lo + hi) / 2;
		if (sf->syms[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* the preferred alias among those starting at the same address */
	size_t i = lo - 1;
	while (i > 0 && sf->syms[i - 1].lo == sf->syms[i].lo)
		i--;
	const struct sym *s = &sf->syms[i];
	for (size_t k = i; k < lo; k++) /* a sized one that contains a wins */
		if (a < sf->syms[k].hi) {
			s = &sf->syms[k];
			break;
		}
	return a < s->hi || s->hi == s->lo ? s->name : NULL;
}

static struct la_stack symbolize(struct symfile *sf, const char *obj, uint64_t ip, uint64_t off)
{
	struct la_stack st = { 0 };
	Dwfl_Module *mod = sf ? sf->mod : NULL;
	GElf_Addr addr = off - 1; /* a return address: the call is the byte before */
	struct la_frame base = { .ip = ip, .obj = obj, .offset = off };
	if (!mod) {
		st.f = la_xmalloc(sizeof(*st.f));
		st.f[0] = base;
		st.n = 1;
		return st;
	}
	const char *symname = unversioned(sym_name(sf, addr));
	int line = 0, col = 0;
	const char *src = NULL;
	Dwfl_Line *ln = dwfl_module_getsrc(mod, addr);
	if (ln) {
		Dwarf_Addr a;
		const char *s = dwfl_lineinfo(ln, &a, &line, &col, NULL, NULL);
		src = join_src(dwfl_line_comp_dir(ln), s);
	}
	Dwarf_Die cu, *chain;
	int n = inline_chain(mod, addr, &cu, &chain);
	st.f = la_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(*st.f));
	for (int i = 0; i < n - 1; i++) { /* the inlined calls */
		struct la_frame *f = &st.f[st.n++];
		*f = base;
		f->inlined = true;
		f->fn = f->fun = die_name(&chain[i], false) ? la_xstrdup(die_name(&chain[i], false)) : NULL;
		f->src = src;
		f->line = line;
		f->col = col;
		/* where this one was called from is where the next one is */
		src = die_src(&cu, &chain[i], &line, &col);
	}
	struct la_frame *f = &st.f[st.n++];
	*f = base;
	f->fun = symname;
	if (!f->fun && n > 0) /* no symbol table: the DWARF name */
		f->fun = die_name(&chain[n - 1], true) ? la_xstrdup(die_name(&chain[n - 1], true)) : NULL;
	f->fn = demangle(f->fun);
	f->src = src;
	f->line = line;
	f->col = col;
	free(chain);
	return st;
}

static struct entry *slot(struct symfile *sf, uint64_t key)
{
	size_t h = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20);
	for (size_t i = h & (sf->cap - 1);; i = (i + 1) & (sf->cap - 1))
		if (!sf->tab[i].off || sf->tab[i].off == key)
			return &sf->tab[i];
}

struct la_stack la_sym_lookup(const struct la_raw_module *m, uint64_t ip)
{
	if (!m)
		return symbolize(NULL, NULL, ip, ip);
	struct symfile *sf = symfile(m);
	uint64_t off = ip - m->bias;
	if ((sf->n + 1) * 2 > sf->cap) {
		struct symfile old = *sf;
		sf->cap = sf->cap ? sf->cap * 2 : 256;
		sf->tab = la_xmalloc(sf->cap * sizeof(*sf->tab));
		for (size_t i = 0; i < old.cap; i++)
			if (old.tab[i].off)
				*slot(sf, old.tab[i].off) = old.tab[i];
		free(old.tab);
	}
	struct entry *e = slot(sf, off + 1);
	if (!e->off) {
		/* cached frames carry the ip of the first process that asked;
		 * callers copy and set their own */
		e->off = off + 1;
		e->frames = symbolize(sf, sf->shown, ip, off);
		sf->n++;
		nlookups++;
	}
	return e->frames;
}
