/* backend_tcmalloc.c: the gperftools heap-checker backend: runs a program
 * with libtcmalloc preloaded and HEAPCHECK set, proves from its banner that
 * the checker really ran (gperftools 2.17 and later accept HEAPCHECK and
 * check nothing), and reads the .heap file it dumps: one line per leaked
 * object, return addresses symbolized through its MAPPED_LIBRARIES section.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

#define BANNER "Perftools heap leak checker is active"

struct mapping {
	uint64_t lo, hi;
	struct la_raw_module *m;
};

struct heapfile {
	const char *path;
	struct mapping *map;
	size_t nmap, mapcap;
	struct la_raw_module **mod;
	size_t nmod, modcap;
};

/* The load bias of a file mapped with its offset 0 at `start`: start minus
 * the page of the first PT_LOAD's address (0 for a PIE or a library, itself
 * for a fixed-address executable, whose bias is then 0). */
static uint64_t bias_of(const char *path, uint64_t start)
{
	uint64_t vaddr = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return start; /* the symbolizer reports the missing file */
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t n;
	if (e && elf_getphdrnum(e, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
				vaddr = ph.p_vaddr - ph.p_offset; /* where offset 0 would be */
				break;
			}
		}
	if (e)
		elf_end(e);
	close(fd);
	return start - (vaddr & ~(uint64_t)0xfff);
}

static struct la_raw_module *module(struct heapfile *h, const char *path, uint64_t start,
				    uint64_t off)
{
	for (size_t i = 0; i < h->nmod; i++)
		if (!strcmp(h->mod[i]->path, path))
			return h->mod[i];
	struct la_raw_module *m = la_xmalloc(sizeof(*m));
	m->id = (unsigned)h->nmod + 1;
	m->state = 'L';
	m->path = la_xstrdup(path);
	/* the first mapping seen is normally offset 0; otherwise step back */
	m->bias = bias_of(path, start - off);
	LA_GROW(h->mod, h->nmod, h->modcap);
	h->mod[h->nmod++] = m;
	return m;
}

/* one /proc/self/maps line: "lo-hi perms offset dev inode   path" */
static int maps_line(struct heapfile *h, char *line)
{
	unsigned long long lo, hi, off;
	char perms[8];
	int pos = 0;
	if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &off, &pos) < 4 || !pos)
		return -1;
	char *path = line + pos;
	if (path[0] != '/')
		return 0; /* [heap], [stack], anonymous: nothing to symbolize */
	char *del = strstr(path, " (deleted)");
	if (del)
		*del = 0;
	LA_GROW(h->map, h->nmap, h->mapcap);
	h->map[h->nmap++] = (struct mapping){ lo, hi, module(h, path, lo, off) };
	return 0;
}

static const struct la_raw_module *find(const struct heapfile *h, uint64_t a)
{
	for (size_t i = 0; i < h->nmap; i++)
		if (a >= h->map[i].lo && a < h->map[i].hi)
			return h->map[i].m;
	return NULL;
}

struct bucket {
	uint64_t objs, bytes;
	uint64_t *pc;
	size_t n;
};

/* "     1:      100 [     1:      100] @ 0x55d97cb691ad 0x55d97cb691bd" */
static int bucket_line(const char *line, struct bucket *b)
{
	unsigned long long o, by, ao, ab;
	int pos = 0;
	if (sscanf(line, " %llu: %llu [ %llu: %llu] @%n", &o, &by, &ao, &ab, &pos) < 4 || !pos)
		return -1;
	b->objs = o;
	b->bytes = by;
	b->n = 0;
	size_t cap = 0;
	for (const char *s = line + pos; *s;) {
		while (*s == ' ')
			s++;
		if (!*s || *s == '\n')
			break;
		char *end;
		errno = 0;
		unsigned long long a = strtoull(s, &end, 16);
		if (end == s || errno || strncmp(s, "0x", 2) || (*end && *end != ' ' && *end != '\n'))
			return -1;
		LA_GROW(b->pc, b->n, cap);
		b->pc[b->n++] = a;
		s = end;
	}
	return b->n ? 0 : -1;
}

static long pid_of(const char *path)
{
	/* <argv0>.<pid>._main_-end.heap */
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *tail = strstr(base, "._main_-end.heap");
	if (!tail)
		return 0;
	const char *d = tail;
	while (d > base && d[-1] >= '0' && d[-1] <= '9')
		d--;
	return d < tail ? strtol(d, NULL, 10) : 0;
}

static void fill_stack(const struct heapfile *h, const struct bucket *b, struct la_stack *st)
{
	size_t cap = 0;
	st->f = NULL;
	st->n = 0;
	for (size_t i = 0; i < b->n; i++) {
		/* every address, the first included, is a return address */
		uint64_t ip = b->pc[i];
		struct la_stack fr = la_sym_lookup(find(h, ip - 1), ip);
		for (size_t k = 0; k < fr.n; k++) {
			LA_GROW(st->f, st->n, cap);
			st->f[st->n] = fr.f[k];
			st->f[st->n++].ip = ip;
		}
	}
}

int la_tc_read(const char *path, enum la_tc_mode mode, struct la_leakset *ls)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		la_error(path, NULL, "cannot read the heap file: %s", strerror(errno));
		return -1;
	}
	struct heapfile h = { .path = path };
	struct bucket *bk = NULL;
	size_t nbk = 0, bkcap = 0, len = 0;
	char *line = NULL;
	const char *bad = NULL;
	long lineno = 0;
	bool maps = false, header = false;
	while (getline(&line, &len, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (lineno == 1) {
			if (strncmp(line, "heap profile:", 13)) {
				bad = "not a tcmalloc heap file: it does not start with \"heap profile:\"";
				break;
			}
			header = true;
			continue;
		}
		if (!maps && !strcmp(line, "MAPPED_LIBRARIES:")) {
			maps = true;
			continue;
		}
		if (!line[0])
			continue;
		if (maps) {
			if (maps_line(&h, line) < 0) {
				bad = "a MAPPED_LIBRARIES line is not a /proc/PID/maps line";
				break;
			}
			continue;
		}
		LA_GROW(bk, nbk, bkcap);
		memset(&bk[nbk], 0, sizeof(*bk));
		if (bucket_line(line, &bk[nbk]) < 0) {
			bad = "expected \"objects: bytes [objects: bytes] @ 0xADDR...\"";
			break;
		}
		nbk++;
	}
	bool ioerr = ferror(f);
	fclose(f);
	free(line);
	if (!bad && ioerr)
		bad = "read error";
	else if (!bad && !header)
		bad = "the file is empty";
	else if (!bad && !maps) {
		bad = "no MAPPED_LIBRARIES section: its addresses cannot be symbolized";
		lineno = 0;
	}
	if (bad) {
		if (lineno > 1)
			la_error(path, NULL, "line %ld: %s", lineno, bad);
		else
			la_error(path, NULL, "%s", bad);
		return -1;
	}
	struct la_process *p = la_leakset_add(ls);
	p->source = la_xstrdup(path);
	p->pid = pid_of(path);
	/* the program is the first file /proc/self/maps lists */
	p->exe = h.nmod ? h.mod[0]->path : NULL;
	if (p->exe) {
		p->argv = la_xmalloc(sizeof(*p->argv));
		p->argv[0] = p->exe;
		p->argc = 1;
	}
	p->seq = 1;
	p->trigger = "exit";
	p->complete = true;
	p->scanned = mode != LA_TC_DRACONIAN;
	/* normal and strict report only blocks no pointer reaches, without the
	 * direct/indirect split; draconian reports every block not freed */
	if (mode != LA_TC_DRACONIAN)
		p->limits = LA_LIMIT_NO_INDIRECT | LA_LIMIT_NO_POSSIBLE | LA_LIMIT_NO_REACHABLE;
	p->rec = la_xmalloc((nbk ? nbk : 1) * sizeof(*p->rec));
	for (size_t i = 0; i < nbk; i++) {
		struct la_record *r = &p->rec[p->nrec++];
		r->kind = mode == LA_TC_DRACONIAN ? LA_UNCLASSIFIED : LA_DEFINITE;
		r->bytes = bk[i].bytes;
		r->blocks = bk[i].objs;
		fill_stack(&h, &bk[i], &r->stack);
		r->family = la_norm_strip(&r->stack);
		free(bk[i].pc);
	}
	free(bk);
	return 0;
}

/* The library to preload: the user's, or the soname the loader finds. */
static char *find_lib(void)
{
	static const char *const dirs[] = { "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
					    "/usr/local/lib", "/lib/x86_64-linux-gnu" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *p = la_xasprintf("%s/libtcmalloc.so.4", dirs[i]);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int heap_files(const char *dir, enum la_tc_mode mode, struct la_leakset *ls, size_t *n)
{
	struct dirent **names;
	int k = scandir(dir, &names, NULL, versionsort), rc = 0;
	*n = 0;
	for (int i = 0; i < k; i++) {
		const char *nm = names[i]->d_name;
		size_t len = strlen(nm);
		if (len > 16 && !strcmp(nm + len - 16, "._main_-end.heap")) {
			char *p = la_xasprintf("%s/%s", dir, nm);
			(*n)++;
			if (la_tc_read(p, mode, ls) < 0)
				rc = -1;
			free(p);
		}
		free(names[i]);
	}
	free(k >= 0 ? names : NULL);
	return rc;
}

int la_tc_run(char **argv, const char *dir, const char *lib, enum la_tc_mode mode,
	      struct la_leakset *ls, struct la_backend_run *r)
{
	static const char *const modes[] = { "normal", "strict", "draconian" };
	memset(r, 0, sizeof(*r));
	char *path = lib ? la_xstrdup(lib) : find_lib();
	if (!path || access(path, R_OK) != 0) {
		r->why = lib ? la_xasprintf("%s: %s", lib, strerror(errno))
			     : la_xstrdup("libtcmalloc.so.4 is not installed (Debian: apt-get "
					  "install libgoogle-perftools4)");
		free(path);
		return 0;
	}
	const char *pre = getenv("LD_PRELOAD");
	char *env[] = {
		pre && *pre ? la_xasprintf("LD_PRELOAD=%s:%s", path, pre)
			    : la_xasprintf("LD_PRELOAD=%s", path),
		la_xasprintf("HEAPCHECK=%s", modes[mode]),
		la_xasprintf("HEAP_CHECK_DUMP_DIRECTORY=%s", dir),
		/* every leak is in the .heap file; the text lists the first ones,
		 * and symbolizing them runs pprof, a perl script, for nothing */
		la_xstrdup("PPROF_PATH=/nonexistent"),
	};
	char *log = la_xasprintf("%s/tcmalloc.log", dir);
	struct la_spawn s = { .argv = argv, .setenv = (const char **)env,
			      .nsetenv = sizeof(env) / sizeof(env[0]), .log = log };
	int err = la_spawn_run(&s), rc = 0;
	r->pid = s.pid;
	r->seconds = s.seconds;
	r->status = s.status;
	char *text = err ? NULL : la_spawn_log(log);
	size_t nfiles = 0;
	if (err) {
		r->why = la_xasprintf("%s could not be started: %s", argv[0], strerror(-err));
	} else if (!text || !strstr(text, BANNER)) {
		/* gperftools 2.17 and later keep HEAPCHECK but check nothing: no
		 * banner means no check, never "no leaks" */
		r->why = la_xasprintf("the heap checker did not announce itself (no \"%s\" banner "
				      "from %s): gperftools 2.17 and later have no heap checker",
				      BANNER, path);
	} else if (strstr(text, "will turn itself off")) {
		r->why = la_xstrdup("the heap checker turned itself off: the program is being "
				    "ptrace()d");
	} else {
		rc = heap_files(dir, mode, ls, &nfiles);
		if (rc < 0)
			r->why = la_xstrdup("its heap file could not be read");
		else if (!nfiles && !strstr(text, "No leaks found"))
			r->why = la_xstrdup("the heap checker ran but neither reported leaks nor "
					    "said there were none (did the program exit normally?)");
		else
			r->available = true;
		if (r->available && strstr(text, "Could not find thread stacks"))
			la_warning("tcmalloc", "the heap checker could not find thread stacks: it "
					       "may report blocks they point to as leaks");
	}
	free(text);
	free(log);
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		free(env[i]);
	free(path);
	return rc;
}
