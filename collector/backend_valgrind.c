/* backend_valgrind.c: the valgrind backend: runs a program under memcheck
 * with XML output and reads memcheck's XML (protocol 4, 5 or 6) with expat
 * into the leak-set model: one process per file, one record per Leak_*
 * error, allocator frames removed. Other errors and unknown elements are
 * skipped, as the protocol asks of readers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"

#define MAXDEPTH 64

struct vframe {
	uint64_t ip;
	char *obj, *fn, *dir, *file;
	int line;
};

struct parse {
	XML_Parser xp;
	const char *path;
	struct la_process *p;
	char *elem[MAXDEPTH];   /* the open elements, root first */
	int depth;
	char *text;             /* character data of the innermost element */
	size_t ntext, captext;
	const char *bad;        /* set when the content (not the syntax) is wrong */
	int protocol;           /* 0 until <protocolversion> */
	bool root_seen, tool_ok;
	/* the <error> being read */
	bool in_error, stack_done;
	char *kind, *what;
	uint64_t lbytes, lblocks;
	struct vframe *fr;
	size_t nfr, frcap;
	struct vframe cur;
	size_t reccap, argcap;
};

/* "a/b/c" is the path of the open elements below the root */
static bool at(const struct parse *ps, const char *path)
{
	int d = 1;
	const char *p = path;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (d >= ps->depth || strlen(ps->elem[d]) != n || strncmp(ps->elem[d], p, n))
			return false;
		d++;
		p += n + (slash ? 1 : 0);
	}
	return d == ps->depth;
}

static void stop(struct parse *ps, const char *why)
{
	if (!ps->bad)
		ps->bad = why;
	XML_StopParser(ps->xp, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *ps = ud;
	(void)attrs;
	if (ps->depth == MAXDEPTH) {
		/* not pushed: on_end must not pop it either */
		ps->depth++;
		stop(ps, "elements nested too deeply for valgrind XML output");
		return;
	}
	ps->elem[ps->depth++] = la_xstrdup(name);
	ps->ntext = 0;
	if (ps->depth == 1) {
		if (strcmp(name, "valgrindoutput"))
			stop(ps, "not valgrind XML output: the root element is not <valgrindoutput>");
		else
			ps->root_seen = true;
		return;
	}
	if (ps->bad)
		return;
	if (at(ps, "error")) {
		ps->in_error = true;
		ps->stack_done = false;
		ps->kind = ps->what = NULL;
		ps->lbytes = ps->lblocks = 0;
		ps->nfr = 0;
	} else if (ps->in_error && !ps->stack_done && at(ps, "error/stack/frame")) {
		memset(&ps->cur, 0, sizeof(ps->cur));
	}
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct parse *ps = ud;
	if (ps->ntext + (size_t)len + 1 > ps->captext) {
		ps->captext = (ps->ntext + (size_t)len + 1) * 2;
		ps->text = la_xrealloc(ps->text, ps->captext);
	}
	memcpy(ps->text + ps->ntext, s, (size_t)len);
	ps->ntext += (size_t)len;
	ps->text[ps->ntext] = 0;
}

/* the element's text without the blanks around it */
static char *text(struct parse *ps)
{
	if (!ps->text)
		return la_xstrdup("");
	ps->text[ps->ntext] = 0;
	char *s = ps->text;
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return strndup(s, n);
}

static int number(const char *s, int base, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (!*s || *end || errno || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* "1,234" as memcheck writes numbers in <text> */
static const char *commas_number(const char *s, uint64_t *v)
{
	*v = 0;
	if (*s < '0' || *s > '9')
		return NULL;
	for (; (*s >= '0' && *s <= '9') || *s == ','; s++)
		if (*s != ',')
			*v = *v * 10 + (uint64_t)(*s - '0');
	return s;
}

/* "80 (16 direct, 64 indirect) bytes in ...": memcheck's leakedbytes of a
 * definitely lost record include what hangs off it; only the text splits
 * them. Returns the direct bytes, or all of them when there is no split. */
static uint64_t direct_bytes(const char *what, uint64_t leaked, uint64_t *indirect)
{
	uint64_t d, i;
	const char *s = what ? strchr(what, '(') : NULL;
	*indirect = 0;
	if (!s || !(s = commas_number(s + 1, &d)) || strncmp(s, " direct, ", 9) ||
	    !(s = commas_number(s + 9, &i)) || strncmp(s, " indirect)", 10) || d + i != leaked)
		return leaked;
	*indirect = i;
	return d;
}

static bool kind_of(const char *k, enum la_kind *out)
{
	static const struct { const char *name; enum la_kind kind; } kinds[] = {
		{ "Leak_DefinitelyLost", LA_DEFINITE },
		{ "Leak_IndirectlyLost", LA_INDIRECT },
		{ "Leak_PossiblyLost", LA_POSSIBLE },
		{ "Leak_StillReachable", LA_REACHABLE },
	};
	for (size_t i = 0; k && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(k, kinds[i].name)) {
			*out = kinds[i].kind;
			return true;
		}
	return false;
}

static char *join_path(const char *dir, const char *file)
{
	if (!file)
		return NULL;
	if (!dir || file[0] == '/')
		return la_xstrdup(file);
	return la_xasprintf("%s/%s", dir, file);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_frame(const struct vframe *a, const struct vframe *b)
{
	return a->ip == b->ip && a->line == b->line && same_str(a->fn, b->fn) &&
	       same_str(a->file, b->file) && same_str(a->dir, b->dir) && same_str(a->obj, b->obj);
}

/* An inline chain repeats the ip, innermost first: all but the last frame of
 * the chain were inlined. Direct recursion repeats the ip too (the same
 * return address, caller after caller), so a run of equal ips is the chain
 * repeated: its period is the shortest p dividing the run with frame i equal
 * to frame i + p throughout, and the last frame of each period is the
 * machine frame (p = 1: plain recursion, no inlining). */
static void mark_inlined(const struct vframe *v, size_t n, struct la_frame *f)
{
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;
		while (e < n && v[e].ip == v[s].ip)
			e++;
		size_t len = e - s, p = len;
		for (size_t q = 1; q < len; q++) {
			if (len % q)
				continue;
			size_t i = s;
			while (i + q < e && same_frame(&v[i], &v[i + q]))
				i++;
			if (i + q == e) {
				p = q;
				break;
			}
		}
		for (size_t i = s; i < e; i++)
			f[i].inlined = (i - s) % p != p - 1;
		s = e;
	}
}

static void add_record(struct parse *ps)
{
	enum la_kind kind;
	if (!kind_of(ps->kind, &kind))
		return; /* not a leak: an invalid read, a mismatched free ... */
	struct la_process *p = ps->p;
	LA_GROW(p->rec, p->nrec, ps->reccap);
	struct la_record *r = &p->rec[p->nrec++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->blocks = ps->lblocks;
	r->bytes = direct_bytes(ps->what, ps->lbytes, &r->ibytes);
	r->stack.f = la_xmalloc((ps->nfr ? ps->nfr : 1) * sizeof(*r->stack.f));
	r->stack.n = ps->nfr;
	for (size_t i = 0; i < ps->nfr; i++) {
		const struct vframe *v = &ps->fr[i];
		struct la_frame *f = &r->stack.f[i];
		/* memcheck prints a caller's return address minus one; the model
		 * keeps return addresses, as the agent and tcmalloc record them */
		f->ip = i ? v->ip + 1 : v->ip;
		f->obj = v->obj;
		/* memcheck does not say where modules were loaded: the offset is
		 * the address itself */
		f->offset = f->ip;
		f->fn = v->fn;
		/* XML has only demangled names (the mangled ones are in the
		 * optional <suppression>): fun takes the demangled one */
		f->fun = v->fn;
		f->src = join_path(v->dir, v->file);
		f->line = v->line;
	}
	mark_inlined(ps->fr, ps->nfr, r->stack.f);
	r->family = la_norm_strip(&r->stack);
}

static void on_end(void *ud, const XML_Char *name)
{
	struct parse *ps = ud;
	(void)name;
	char *t = NULL;
	uint64_t v;
	if (ps->depth > MAXDEPTH || ps->bad) {
		if (ps->depth <= MAXDEPTH)
			free(ps->elem[ps->depth - 1]);
		ps->depth--;
		return;
	}
	if (at(ps, "protocolversion")) {
		t = text(ps);
		if (number(t, 10, &v) || v < 4 || v > 6)
			stop(ps, la_xasprintf("XML protocol version %s is not supported (4, 5 and 6 are)",
					      t));
		ps->protocol = (int)v;
	} else if (at(ps, "protocoltool")) {
		t = text(ps);
		if (strcmp(t, "memcheck"))
			stop(ps, la_xasprintf("written by valgrind's %s, not by memcheck: it has no "
					      "leak records", t));
		ps->tool_ok = true;
	} else if (at(ps, "pid") || at(ps, "ppid")) {
		t = text(ps);
		if (number(t, 10, &v) == 0)
			*(at(ps, "pid") ? &ps->p->pid : &ps->p->ppid) = (long)v;
	} else if (at(ps, "args/argv/exe") || at(ps, "args/argv/arg")) {
		t = text(ps);
		if (at(ps, "args/argv/exe"))
			ps->p->exe = la_xstrdup(t);
		LA_GROW(ps->p->argv, ps->p->argc, ps->argcap);
		ps->p->argv[ps->p->argc++] = la_xstrdup(t);
	} else if (ps->in_error) {
		if (at(ps, "error")) {
			if (!ps->protocol)
				stop(ps, "no <protocolversion> before the first error");
			else
				add_record(ps);
			ps->in_error = false;
		} else if (at(ps, "error/kind")) {
			ps->kind = text(ps);
		} else if (at(ps, "error/xwhat/text") || at(ps, "error/what")) {
			ps->what = text(ps);
		} else if (at(ps, "error/xwhat/leakedbytes") || at(ps, "error/leakedbytes")) {
			t = text(ps);
			if (number(t, 10, &ps->lbytes))
				stop(ps, la_xasprintf("<leakedbytes> is not a number: '%s'", t));
		} else if (at(ps, "error/xwhat/leakedblocks") || at(ps, "error/leakedblocks")) {
			t = text(ps);
			if (number(t, 10, &ps->lblocks))
				stop(ps, la_xasprintf("<leakedblocks> is not a number: '%s'", t));
		} else if (!ps->stack_done && at(ps, "error/stack")) {
			ps->stack_done = true; /* the allocation stack is the first one */
		} else if (!ps->stack_done && at(ps, "error/stack/frame")) {
			LA_GROW(ps->fr, ps->nfr, ps->frcap);
			ps->fr[ps->nfr++] = ps->cur;
		} else if (!ps->stack_done && ps->depth == 5 && !strcmp(ps->elem[2], "stack") &&
			   !strcmp(ps->elem[3], "frame")) {
			t = text(ps);
			const char *e = ps->elem[4];
			if (!strcmp(e, "ip")) {
				if (number(t, 16, &ps->cur.ip))
					stop(ps, la_xasprintf("<ip> is not a hex address: '%s'", t));
			} else if (!strcmp(e, "obj")) {
				ps->cur.obj = la_xstrdup(t);
			} else if (!strcmp(e, "fn")) {
				ps->cur.fn = la_xstrdup(t);
			} else if (!strcmp(e, "dir")) {
				ps->cur.dir = la_xstrdup(t);
			} else if (!strcmp(e, "file")) {
				ps->cur.file = la_xstrdup(t);
			} else if (!strcmp(e, "line")) {
				ps->cur.line = atoi(t);
			}
		}
	}
	free(t);
	free(ps->elem[--ps->depth]);
	ps->ntext = 0;
}

int la_vg_read(const char *path, struct la_leakset *ls)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		la_error(path, NULL, "cannot read the valgrind XML file: %s", strerror(errno));
		return -1;
	}
	struct parse ps = { .path = path };
	ps.xp = XML_ParserCreate(NULL);
	if (!ps.xp) {
		close(fd);
		la_error(path, NULL, "cannot read the valgrind XML file: out of memory");
		return -1;
	}
	struct la_process proc = { 0 };
	ps.p = &proc;
	proc.source = la_xstrdup(path);
	proc.trigger = "exit";
	proc.seq = 1;
	proc.complete = true;
	XML_SetUserData(ps.xp, &ps);
	XML_SetElementHandler(ps.xp, on_start, on_end);
	XML_SetCharacterDataHandler(ps.xp, on_text);
	char buf[65536];
	ssize_t n;
	int rc = 0, err = 0;
	do {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			err = errno;
			break;
		}
		if (XML_Parse(ps.xp, buf, (int)n, n == 0) != XML_STATUS_OK) {
			rc = -1;
			break;
		}
	} while (n > 0);
	close(fd);
	if (err) {
		la_error(path, NULL, "cannot read the valgrind XML file: %s", strerror(err));
		rc = -1;
	} else if (ps.bad) {
		la_error(path, NULL, "not usable valgrind XML: %s", ps.bad);
		rc = -1;
	} else if (rc < 0) {
		la_error(path,
			 XML_GetErrorCode(ps.xp) == XML_ERROR_NO_ELEMENTS
				 ? "valgrind stops writing when it is killed, and when the program runs "
				   "another with exec unless --trace-children is given; a complete run "
				   "ends with </valgrindoutput>"
				 : NULL,
			 "not valid XML: line %lu, column %lu: %s",
			 (unsigned long)XML_GetCurrentLineNumber(ps.xp),
			 (unsigned long)XML_GetCurrentColumnNumber(ps.xp) + 1,
			 XML_ErrorString(XML_GetErrorCode(ps.xp)));
	} else if (!ps.root_seen || !ps.protocol || !ps.tool_ok) {
		la_error(path, NULL, "not usable valgrind XML: no %s",
			 !ps.root_seen ? "<valgrindoutput> element"
			 : !ps.protocol ? "<protocolversion>" : "<protocoltool>");
		rc = -1;
	}
	XML_ParserFree(ps.xp);
	while (ps.depth > MAXDEPTH)
		ps.depth--;
	while (ps.depth)
		free(ps.elem[--ps.depth]);
	free(ps.text);
	free(ps.fr);
	if (rc == 0)
		*la_leakset_add(ls) = proc;
	return rc;
}

/* the valgrind XML files of one run, in pid order (the parent first) */
static int read_dir(const char *dir, struct la_leakset *ls, size_t *nfiles)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, versionsort), rc = 0;
	*nfiles = 0;
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		if (!strncmp(nm, "vg.", 3) && strlen(nm) > 7 && !strcmp(nm + strlen(nm) - 4, ".xml")) {
			char *p = la_xasprintf("%s/%s", dir, nm);
			(*nfiles)++;
			if (la_vg_read(p, ls) < 0)
				rc = -1;
			free(p);
		}
		free(names[i]);
	}
	free(n >= 0 ? names : NULL);
	return rc;
}

/* "NAME=value" with a name a shell would export: what env -0 printed, not a
 * warning valgrind wrote into the same log. */
static bool env_entry(const char *e)
{
	if (!(*e == '_' || (*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z')))
		return false;
	for (e++; *e && *e != '='; e++)
		if (!(*e == '_' || (*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z') ||
		      (*e >= '0' && *e <= '9')))
			return false;
	return *e == '=';
}

char **la_vg_client_env(const char *dir)
{
	char *log = la_xasprintf("%s/valgrind-env.log", dir);
	char *const cmd[] = { "valgrind", "--tool=none", "-q", "--", "env", "-0", NULL };
	struct la_spawn s = { .argv = cmd, .log = log };
	char **env = NULL;
	int fd = -1;
	if (la_spawn_run(&s) == 0 && WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0 &&
	    (fd = open(log, O_RDONLY | O_CLOEXEC)) >= 0) {
		size_t n = 0, cap = 65536, nenv = 0, ecap = 0;
		char *buf = la_xmalloc(cap + 1);
		ssize_t k;
		while ((k = read(fd, buf + n, cap - n)) > 0)
			if ((n += (size_t)k) == cap)
				buf = la_xrealloc(buf, (cap *= 2) + 1);
		buf[n] = 0;
		for (size_t at = 0; at < n; at += strlen(buf + at) + 1) {
			if (!env_entry(buf + at))
				continue;
			if (nenv + 1 >= ecap)
				env = la_xrealloc(env, (ecap = ecap ? ecap * 2 : 64) * sizeof(*env));
			env[nenv++] = la_xstrdup(buf + at);
			env[nenv] = NULL;
		}
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	unlink(log);
	free(log);
	return env;
}

int la_vg_run(char **argv, const char *dir, bool trace_children, int num_callers,
	      const char **env, size_t nenv, struct la_leakset *ls, struct la_backend_run *r)
{
	char *xml = la_xasprintf("--xml-file=%s/vg.%%p.xml", dir);
	char *callers = la_xasprintf("--num-callers=%d", num_callers > 0 ? num_callers : 32);
	char *log = la_xasprintf("%s/valgrind.log", dir);
	const char *pre[] = {
		"valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=all",
		/* the symbols of libraries dlclose()d before exit, as the agent's */
		"--keep-debuginfo=yes",
		"--xml=yes", xml, callers,
		trace_children ? "--trace-children=yes" : "--trace-children=no",
		"--child-silent-after-fork=yes", "--",
	};
	size_t npre = sizeof(pre) / sizeof(pre[0]), nargs = 0;
	while (argv[nargs])
		nargs++;
	char **cmd = la_xmalloc((npre + nargs + 1) * sizeof(*cmd));
	memcpy(cmd, pre, sizeof(pre));
	memcpy(cmd + npre, argv, nargs * sizeof(*argv));
	struct la_spawn s = { .argv = cmd, .log = log, .setenv = env, .nsetenv = nenv };
	int err = la_spawn_run(&s), rc = 0;
	memset(r, 0, sizeof(*r));
	r->pid = s.pid;
	r->seconds = s.seconds;
	r->status = s.status;
	size_t nfiles = 0;
	if (err == -ENOENT) {
		r->why = la_xstrdup("valgrind is not installed (Debian: apt-get install valgrind)");
	} else if (err) {
		r->why = la_xasprintf("valgrind could not be started: %s", strerror(-err));
	} else {
		size_t before = ls->nproc;
		rc = read_dir(dir, ls, &nfiles);
		if (!nfiles || ls->nproc == before) {
			char *text = la_spawn_log(log), *last = la_spawn_last_line(text);
			r->why = la_xasprintf("valgrind wrote no leak report%s%s%s",
					      nfiles ? " that could be read" : "",
					      last ? ": " : "", last ? last : "");
			free(last);
			free(text);
		} else {
			r->available = rc == 0;
			if (rc < 0)
				r->why = la_xstrdup("its XML could not be read");
		}
	}
	free(cmd);
	free(xml);
	free(callers);
	free(log);
	return rc;
}
