/* compare.c: `leakagent compare`: runs one program under the agent and each
 * other backend (or reads their files), then matches the leak sets record
 * by record and prints one table (text or JSON): stacks all agree on,
 * differences every tool's design explains, stacks only some saw, and
 * stacks where the verdicts differ. Matching reads only the leak-set model.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define MAXSETS 8
#define MAXRUNS 100

/* One backend's verdicts: a leak set per run, plus how it went. The compare
 * logic below reads name, available, the leak sets and their limits only. */
struct set {
	const char *name;
	bool available;
	char *why;              /* when unavailable */
	struct la_leakset ls[MAXRUNS];
	double run[MAXRUNS];    /* wall time of the program under the tool */
	double read[MAXRUNS];   /* reading and symbolizing its output */
	int nruns;
	unsigned limits;        /* union of its processes' limits */
	bool unclassified;      /* some record is of kind unclassified */
	long launched[MAXRUNS]; /* pid of the process each run started; 0 unknown */
	struct left *left;      /* processes of the first run left out (scope_sets) */
	size_t nleft, leftcap;
};

/* A process one backend reported and another could not have: not compared. */
enum left_why { LEFT_FORK, LEFT_CHILD };
struct left {
	long pid, forked_from;
	const char *exe;
	enum left_why why;
};

struct cell {
	uint64_t bytes[LA_NKINDS], blocks[LA_NKINDS];
};

enum category { C_AGREE, C_EXPECTED, C_ONLY, C_DIFFER, C_N };

static const char *const cat_name[C_N] = { "agree", "expected", "only", "differ" };

struct row {
	char *key;
	const struct la_record *sample; /* a record to show the stack of */
	const struct la_process *sample_proc;
	struct cell cell[MAXSETS];      /* from each set's first run */
	bool varies[MAXSETS];           /* a later run disagreed with the first */
	enum category cat;
	bool definite_differs;
	char *notes;
};

struct opts {
	int depth, runs, num_callers;
	bool json, trace_children;
	const char *output, *tclib;
	enum la_tc_mode tcmode;
};

static struct set sets[MAXSETS];
static int nsets;
static struct row *rows;
static size_t nrows, rowcap;
static bool multi_proc;

/* --- matching keys ------------------------------------------------------------ */

static bool is_root_frame(const char *fn)
{
	/* where a thread's stack or the program's begins: tools unwind past
	 * these to different depths (memcheck stops at main) */
	static const char *const roots[] = { "start_thread", "clone", "clone3", "__libc_start_main",
					     "__libc_start_call_main", "_start", "(below main)", NULL };
	for (int i = 0; fn && roots[i]; i++)
		if (!strcmp(fn, roots[i]))
			return true;
	return false;
}

static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p ? p : "";
}

/* The key of a record: the function of its allocating frame and of the
 * frames after it, up to depth machine frames, ending at main or a thread's
 * start. An inlined frame shares its machine frame with the function it was
 * inlined into, and only that function counts: tools that show inline
 * chains and tools that do not then agree. */
static char *key_of(const struct la_process *p, const struct la_record *r, int depth)
{
	size_t cap = 256, n = 0;
	char *k = la_xmalloc(cap);
	if (multi_proc)
		n += (size_t)snprintf(k, cap, "%s|", base(p->exe));
	int d = 0;
	for (size_t i = 0; i < r->stack.n && d < depth; i++) {
		const struct la_frame *f = &r->stack.f[i];
		if (f->inlined)
			continue;
		if (is_root_frame(f->fn))
			break;
		char *name = f->fn ? la_norm_name(f->fn) : la_xasprintf("?%s", base(f->obj));
		size_t need = n + strlen(name) + 2;
		if (need > cap) {
			cap = need * 2;
			k = la_xrealloc(k, cap);
		}
		n += (size_t)sprintf(k + n, "%s%s", d ? "<" : "", name);
		free(name);
		d++;
		if (f->fn && !strcmp(f->fn, "main"))
			break;
	}
	return k;
}

static struct row *row_for(const char *key)
{
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].key, key))
			return &rows[i];
	LA_GROW(rows, nrows, rowcap);
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->key = la_xstrdup(key);
	return r;
}

static bool cell_eq(const struct cell *a, const struct cell *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void build_rows(int depth)
{
	multi_proc = false;
	for (int s = 0; s < nsets; s++)
		for (int k = 0; k < sets[s].nruns; k++)
			multi_proc |= sets[s].ls[k].nproc > 1;
	for (int s = 0; s < nsets; s++) {
		if (!sets[s].available)
			continue;
		for (int run = 0; run < sets[s].nruns; run++) {
			const struct la_leakset *ls = &sets[s].ls[run];
			/* cells of this run, compared with the first run's afterwards */
			struct cell *tmp = la_xmalloc((nrows + 1) * sizeof(*tmp));
			size_t ntmp = nrows + 1;
			for (size_t pi = 0; pi < ls->nproc; pi++) {
				const struct la_process *p = &ls->proc[pi];
				for (size_t i = 0; i < p->nrec; i++) {
					const struct la_record *rec = &p->rec[i];
					if (rec->suppressed_by)
						continue;
					char *key = key_of(p, rec, depth);
					struct row *r = row_for(key);
					size_t ri = (size_t)(r - rows);
					free(key);
					if (ri >= ntmp) {
						tmp = la_xrealloc(tmp, (ri + 1) * sizeof(*tmp));
						memset(tmp + ntmp, 0, (ri + 1 - ntmp) * sizeof(*tmp));
						ntmp = ri + 1;
					}
					tmp[ri].bytes[rec->kind] += rec->bytes;
					tmp[ri].blocks[rec->kind] += rec->blocks;
					if (!r->sample) {
						r->sample = rec;
						r->sample_proc = p;
					}
				}
			}
			for (size_t ri = 0; ri < nrows; ri++) {
				struct cell c = { 0 };
				if (ri < ntmp)
					c = tmp[ri];
				if (run == 0)
					rows[ri].cell[s] = c;
				else if (!cell_eq(&c, &rows[ri].cell[s]))
					rows[ri].varies[s] = true;
			}
			free(tmp);
		}
	}
}

/* --- kinds across tools ------------------------------------------------------- */

/* What a cell of one set can be compared with in another: when either
 * cannot split indirect from definite, both count them together; kinds the
 * other cannot report are set aside (*dropped says some were). An
 * unclassified set has no limits: it sees every block, it only cannot
 * name the kind, and unclassified never equals a kind. */
static struct cell project(const struct cell *c, unsigned self, unsigned other, bool *dropped)
{
	struct cell o = *c;
	if ((self | other) & LA_LIMIT_NO_INDIRECT) {
		o.bytes[LA_DEFINITE] += o.bytes[LA_INDIRECT];
		o.blocks[LA_DEFINITE] += o.blocks[LA_INDIRECT];
		o.bytes[LA_INDIRECT] = o.blocks[LA_INDIRECT] = 0;
	}
	static const struct { unsigned limit; enum la_kind kind; } lim[] = {
		{ LA_LIMIT_NO_POSSIBLE, LA_POSSIBLE }, { LA_LIMIT_NO_REACHABLE, LA_REACHABLE } };
	for (size_t i = 0; i < 2; i++)
		if ((other & lim[i].limit) && o.blocks[lim[i].kind]) {
			*dropped = true;
			o.bytes[lim[i].kind] = o.blocks[lim[i].kind] = 0;
		}
	return o;
}

static bool empty(const struct cell *c)
{
	for (int k = 0; k < LA_NKINDS; k++)
		if (c->blocks[k] || c->bytes[k])
			return false;
	return true;
}

enum pair { P_NONE, P_AGREE, P_BYDESIGN, P_ONLY, P_DIFFER };

static enum pair compare_pair(const struct row *r, int a, int b, bool *def_differs)
{
	bool dropped = false;
	struct cell pa = project(&r->cell[a], sets[a].limits, sets[b].limits, &dropped);
	struct cell pb = project(&r->cell[b], sets[b].limits, sets[a].limits, &dropped);
	if (pa.bytes[LA_DEFINITE] != pb.bytes[LA_DEFINITE] ||
	    pa.blocks[LA_DEFINITE] != pb.blocks[LA_DEFINITE])
		*def_differs = true;
	bool ea = empty(&pa), eb = empty(&pb);
	if (ea && eb)
		return dropped ? P_BYDESIGN : P_NONE;
	if (ea || eb)
		return P_ONLY;
	if (!cell_eq(&pa, &pb))
		return P_DIFFER;
	return dropped ? P_BYDESIGN : P_AGREE;
}

static char *append(char *s, const char *fmt, const char *a) LA_ATTR_PRINTF(2, 0);
static char *append(char *s, const char *fmt, const char *a)
{
	char *m = la_xasprintf(fmt, a);
	if (!s)
		return m;
	char *o = la_xasprintf("%s; %s", s, m);
	free(s);
	free(m);
	return o;
}

static void classify(void)
{
	for (size_t i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		bool only = false, differ = false, bydesign = false;
		for (int a = 0; a < nsets; a++) {
			if (!sets[a].available)
				continue;
			for (int b = a + 1; b < nsets; b++) {
				if (!sets[b].available)
					continue;
				switch (compare_pair(r, a, b, &r->definite_differs)) {
				case P_ONLY: only = true; break;
				case P_DIFFER: differ = true; break;
				case P_BYDESIGN: bydesign = true; break;
				default: break;
				}
			}
		}
		r->cat = only ? C_ONLY : differ ? C_DIFFER : bydesign ? C_EXPECTED : C_AGREE;
		for (int s = 0; s < nsets; s++) {
			if (!sets[s].available)
				continue;
			if (r->varies[s])
				r->notes = append(r->notes, "%s: not the same in every run", sets[s].name);
			if (!empty(&r->cell[s]))
				continue;
			/* why this set has nothing, when its design says so */
			for (int o = 0; o < nsets; o++) {
				if (o == s || !sets[o].available)
					continue;
				if ((sets[s].limits & LA_LIMIT_NO_POSSIBLE) && r->cell[o].blocks[LA_POSSIBLE]) {
					r->notes = append(r->notes, "%s does not report possibly lost blocks "
						"(interior pointers count as live)", sets[s].name);
					break;
				}
				if ((sets[s].limits & LA_LIMIT_NO_REACHABLE) &&
				    r->cell[o].blocks[LA_REACHABLE]) {
					r->notes = append(r->notes, "%s does not report still reachable "
						"blocks", sets[s].name);
					break;
				}
			}
		}
	}
}

/* --- running the backends ----------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void normalize_set(struct la_leakset *ls)
{
	for (size_t i = 0; i < ls->nproc; i++)
		for (size_t k = 0; k < ls->proc[i].nrec; k++)
			la_norm_strip(&ls->proc[i].rec[k].stack);
}

/* --- like with like: the environment --------------------------------------- */

/* memcheck's client gets variables the agent's run does not: LD_PRELOAD, and
 * what a wrapper script exports (Debian's /usr/bin/valgrind: LD_LIBRARY_PATH,
 * GLIBCXX_FORCE_NEW, GLIBCPP_FORCE_NEW, and the shell's _); the agent's run
 * gets LEAKAGENT_OPTIONS. A program that copies its environment (perl's
 * %ENV, gawk's ENVIRON, a shell) allocates blocks for each variable, and
 * one that carves those from bigger chunks places everything after them
 * differently, which turns a chunk's start pointer into an interior one:
 * the leak sets differed by kinds and blocks the program never changed.
 * So the agent's run gets the client's variables (LD_PRELOAD aside, which
 * each run sets for itself) and valgrind's run a LEAKAGENT_OPTIONS shaped
 * like the agent's: the same names in both, the same values but those two.
 * Found once per compare by running env under valgrind --tool=none. */
static char **agent_env; /* "NAME=value" to set, "NAME" to remove */
static const char *vg_env[1];
static size_t vg_nenv;

static bool own_var(const char *e)
{
	return !strncmp(e, "LD_PRELOAD=", 11) || !strncmp(e, "LEAKAGENT_OPTIONS=", 18);
}

static const char *env_in(char **env, const char *e)
{
	size_t n = strcspn(e, "=");
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], e, n) && env[i][n] == '=')
			return env[i];
	return NULL;
}

static void level_env(const struct opts *o)
{
	char *dir = la_private_dir("leakagent-compare");
	char **client = dir ? la_vg_client_env(dir) : NULL;
	if (dir) {
		la_remove_dir(dir);
		free(dir);
	}
	if (!client)
		return; /* valgrind could not tell: the environments stay as they are */
	size_t n = 0, cap = 0;
	for (size_t i = 0; client[i]; i++) {
		const char *ours = env_in(environ, client[i]);
		if (own_var(client[i]) || (ours && !strcmp(ours, client[i])))
			continue;
		if (n + 1 >= cap)
			agent_env = la_xrealloc(agent_env, (cap = cap ? cap * 2 : 16) * sizeof(char *));
		agent_env[n++] = client[i];
		agent_env[n] = NULL;
	}
	for (size_t i = 0; environ[i]; i++) {
		if (own_var(environ[i]) || env_in(client, environ[i]))
			continue;
		if (n + 1 >= cap)
			agent_env = la_xrealloc(agent_env, (cap = cap ? cap * 2 : 16) * sizeof(char *));
		agent_env[n++] = la_xasprintf("%.*s", (int)strcspn(environ[i], "="), environ[i]);
		agent_env[n] = NULL;
	}
	if (!getenv("LEAKAGENT_OPTIONS")) {
		const char *tmp = getenv("TMPDIR");
		char depth[32] = "";
		if (o->num_callers > 0)
			snprintf(depth, sizeof(depth), ":depth=%d", o->num_callers);
		vg_env[vg_nenv++] = la_xasprintf(
			"LEAKAGENT_OPTIONS=output=%s/leakagent.XXXXXX/leakagent.%%e.%%p.%%n.raw%s",
			tmp && *tmp && !strchr(tmp, ':') ? tmp : "/tmp", depth);
	}
}

/* The agent run: the program's output goes to a log like every backend's,
 * so the table on stdout stays readable, and its input is /dev/null, as
 * every backend's is. */
static void run_agent(struct set *s, char **argv, const struct opts *o, const char *dir)
{
	char *log = la_xasprintf("%s/agent.log", dir);
	struct la_run_result r;
	fflush(stdout);
	fflush(stderr);
	int in = dup(0), out = dup(1), err = dup(2);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	size_t problems = la_nproblems;
	double t0 = now();
	int rc = la_run(argv, o->num_callers, agent_env, &r);
	double t1 = now();
	fflush(stdout);
	fflush(stderr);
	if (in >= 0) {
		dup2(in, 0);
		close(in);
	}
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	int run = s->nruns++;
	s->run[run] = t1 - t0;
	s->launched[run] = rc < 0 ? 0 : r.pid;
	if (rc < 0 || !r.nreports) {
		s->available = false;
		s->why = la_nproblems > problems ? la_xstrdup(la_problems[la_nproblems - 1])
			 : la_xstrdup("no leak report was written: the agent did not run in it");
		la_bad_input = 0; /* an unavailable backend, not bad input */
	} else {
		for (size_t i = 0; i < r.nreports; i++) {
			struct la_raw *raw = la_xmalloc(sizeof(*raw));
			la_raw_read(r.reports[i], raw);
			if (raw->version)
				la_fromraw(raw, la_leakset_add(&s->ls[run]), o->num_callers);
		}
		normalize_set(&s->ls[run]);
	}
	s->read[run] = now() - t1;
	la_run_cleanup(&r);
	free(log);
}

static void run_set(struct set *s, char **argv, const struct opts *o)
{
	char *dir = la_private_dir("leakagent-compare");
	if (!dir) {
		s->available = false;
		s->why = la_xstrdup("no private directory");
		return;
	}
	if (!strcmp(s->name, "agent")) {
		run_agent(s, argv, o, dir);
	} else {
		struct la_backend_run br;
		int run = s->nruns++;
		double t0 = now();
		if (!strcmp(s->name, "valgrind"))
			la_vg_run(argv, dir, o->trace_children, o->num_callers, vg_env, vg_nenv,
				  &s->ls[run], &br);
		else
			la_tc_run(argv, dir, o->tclib, o->tcmode, &s->ls[run], &br);
		s->run[run] = br.seconds;
		s->launched[run] = br.pid;
		s->read[run] = now() - t0 - br.seconds;
		if (!br.available) {
			s->available = false;
			if (!s->why)
				s->why = br.why;
		}
	}
	la_remove_dir(dir);
	free(dir);
}

/* Like with like: a process that some backend in the comparison cannot
 * report is left out of every set (and listed). No backend but the agent
 * reports a forked child that has not exec'd: memcheck runs with
 * --child-silent-after-fork=yes, the heap checker checks only the process
 * it started in. Children started by exec: the agent and the heap checker
 * report them, memcheck only with --trace-children. Files given with
 * --from-* are compared as they are. */
static void scope_sets(const struct opts *o)
{
	bool others = false, vg_launched_only = false;
	for (int s = 0; s < nsets; s++) {
		if (!sets[s].available || !strcmp(sets[s].name, "agent"))
			continue;
		others = true;
		vg_launched_only |= !strcmp(sets[s].name, "valgrind") && !o->trace_children;
	}
	if (!others)
		return;
	for (int s = 0; s < nsets; s++) {
		struct set *st = &sets[s];
		for (int k = 0; k < st->nruns; k++) {
			struct la_leakset *ls = &st->ls[k];
			size_t w = 0;
			for (size_t i = 0; i < ls->nproc; i++) {
				const struct la_process *p = &ls->proc[i];
				bool fork = p->forked_from != 0;
				bool child = vg_launched_only && st->launched[k] && p->pid != st->launched[k];
				if (!fork && !child) {
					ls->proc[w++] = *p;
					continue;
				}
				if (k)
					continue;
				LA_GROW(st->left, st->nleft, st->leftcap);
				st->left[st->nleft++] = (struct left){ p->pid, p->forked_from, p->exe,
								       fork ? LEFT_FORK : LEFT_CHILD };
			}
			ls->nproc = w;
		}
	}
}

static void text_left(FILE *out, const struct set *st)
{
	for (size_t i = 0; i < st->nleft; i++) {
		const struct left *l = &st->left[i];
		if (i == 8) {
			fprintf(out, "%-9s %-12s and %zu more\n", "", "", st->nleft - i);
			break;
		}
		fprintf(out, "%-9s %-12s left out: pid %ld (%s), ", "", "", l->pid, base(l->exe));
		if (l->why == LEFT_FORK)
			fprintf(out, "a fork of pid %ld: no other backend reports forked children\n",
				l->forked_from);
		else
			fputs("a child started by exec: valgrind did not trace children "
			      "(--trace-children)\n", out);
	}
}

static void finish_set(struct set *s)
{
	s->limits = 0;
	s->unclassified = false;
	for (int k = 0; k < s->nruns; k++)
		for (size_t i = 0; i < s->ls[k].nproc; i++) {
			const struct la_process *p = &s->ls[k].proc[i];
			s->limits |= p->limits;
			for (size_t j = 0; j < p->nrec; j++)
				s->unclassified |= p->rec[j].kind == LA_UNCLASSIFIED;
		}
}

/* --- output ------------------------------------------------------------------- */

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double t[MAXRUNS];
	if (n <= 0)
		return 0;
	memcpy(t, v, (size_t)n * sizeof(*t));
	qsort(t, (size_t)n, sizeof(*t), by_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static const char *kind_word(const struct set *s, enum la_kind k)
{
	if (k == LA_DEFINITE && (s->limits & LA_LIMIT_NO_INDIRECT))
		return "lost";
	return la_kind_name(k);
}

static void totals(const struct set *s, struct cell *t)
{
	memset(t, 0, sizeof(*t));
	if (!s->nruns)
		return;
	const struct la_leakset *ls = &s->ls[0];
	for (size_t i = 0; i < ls->nproc; i++)
		for (size_t k = 0; k < ls->proc[i].nrec; k++) {
			const struct la_record *r = &ls->proc[i].rec[k];
			if (r->suppressed_by)
				continue; /* not compared: see la_compare_main */
			t->bytes[r->kind] += r->bytes;
			t->blocks[r->kind] += r->blocks;
		}
}

static void text_cell(FILE *out, const struct set *s, const struct cell *c)
{
	bool any = false;
	char a[32], b[32];
	for (int k = 0; k < LA_NKINDS; k++) {
		if (!c->blocks[k] && !c->bytes[k])
			continue;
		fprintf(out, "%s%s %s bytes in %s blocks", any ? ", " : "", kind_word(s, (enum la_kind)k),
			la_commas(c->bytes[k], a), la_commas(c->blocks[k], b));
		any = true;
	}
	if (!any)
		fputs("-", out);
}

static void text_stack(FILE *out, const struct row *r, int depth)
{
	int d = 0;
	const struct la_stack *st = &r->sample->stack;
	for (size_t i = 0; i < st->n && d < depth; i++) {
		const struct la_frame *f = &st->f[i];
		if (is_root_frame(f->fn) && !f->inlined)
			break;
		fprintf(out, "%s%s", i ? " < " : "", f->fn ? f->fn : "???");
		if (f->src && f->line)
			fprintf(out, " (%s:%d)", base(f->src), f->line);
		else if (f->obj)
			fprintf(out, " (in %s)", base(f->obj));
		if (!f->inlined)
			d++;
		if (!f->inlined && f->fn && !strcmp(f->fn, "main"))
			break;
	}
	fputc('\n', out);
}

static const char *const cat_title[C_N] = {
	"Agreed by every backend",
	"Different only where a backend's design says so",
	"Seen by some backends only",
	"Same stack, different kind, bytes or blocks",
};

static void print_text(FILE *out, char **argv, const struct opts *o, int verdict, size_t ndiff)
{
	fprintf(out, "leakagent compare:");
	for (int i = 0; argv && argv[i]; i++)
		fprintf(out, " %s", argv[i]);
	fprintf(out, "\nmatching on the allocating frame and %d more, %d run%s per backend\n\n",
		o->depth - 1, o->runs, o->runs > 1 ? "s" : "");
	int agent = -1;
	for (int s = 0; s < nsets; s++)
		if (!strcmp(sets[s].name, "agent") && sets[s].available)
			agent = s;
	double ta = agent >= 0 ? median(sets[agent].run, sets[agent].nruns) : 0;
	fprintf(out, "%-9s %-12s %9s %9s %9s  %s\n", "backend", "status", "run", "vs agent", "report",
		"definite / indirect / possible / reachable / unclassified (bytes in blocks)");
	for (int s = 0; s < nsets; s++) {
		const struct set *st = &sets[s];
		double t = median(st->run, st->nruns), rd = median(st->read, st->nruns);
		char ratio[32] = "-";
		if (ta > 0 && st->nruns)
			snprintf(ratio, sizeof(ratio), "%.1fx", t / ta);
		fprintf(out, "%-9s %-12s ", st->name, st->available ? "ran" : "unavailable");
		if (st->nruns)
			fprintf(out, "%8.3fs %9s %8.3fs  ", t, ratio, rd);
		else
			fprintf(out, "%9s %9s %9s  ", "-", "-", "-");
		if (!st->available) {
			fprintf(out, "%s\n", st->why ? st->why : "");
			continue;
		}
		struct cell c;
		totals(st, &c);
		char a[32], b[32];
		for (int k = 0; k < LA_NKINDS; k++) {
			bool na = (k == LA_INDIRECT && (st->limits & LA_LIMIT_NO_INDIRECT)) ||
				  (k == LA_POSSIBLE && (st->limits & LA_LIMIT_NO_POSSIBLE)) ||
				  (k == LA_REACHABLE && (st->limits & LA_LIMIT_NO_REACHABLE));
			fprintf(out, "%s", k ? " / " : "");
			if (na)
				fputs("n/a", out);
			else
				fprintf(out, "%s in %s", la_commas(c.bytes[k], a), la_commas(c.blocks[k], b));
		}
		fputc('\n', out);
		if (st->limits & LA_LIMIT_NO_INDIRECT)
			fprintf(out, "%-9s %-12s its leaks are definite and indirect together (shown as "
				"\"lost\")\n", "", "");
		if (st->unclassified)
			fprintf(out, "%-9s %-12s some records are not classified (kind unclassified): "
				"they cannot agree on definitely lost\n", "", "");
		text_left(out, st);
	}
	for (int c = 0; c < C_N; c++) {
		size_t n = 0;
		for (size_t i = 0; i < nrows; i++)
			n += rows[i].cat == (enum category)c;
		fprintf(out, "\n%s: %zu stack%s\n", cat_title[c], n, n == 1 ? "" : "s");
		for (size_t i = 0; i < nrows; i++) {
			const struct row *r = &rows[i];
			if (r->cat != (enum category)c)
				continue;
			fputs("  ", out);
			text_stack(out, r, o->depth);
			for (int s = 0; s < nsets; s++) {
				if (!sets[s].available)
					continue;
				fprintf(out, "      %-9s ", sets[s].name);
				text_cell(out, &sets[s], &r->cell[s]);
				fputc('\n', out);
			}
			if (r->notes)
				fprintf(out, "      note: %s\n", r->notes);
			if (r->definite_differs)
				fputs("      definitely lost differs\n", out);
		}
	}
	fputc('\n', out);
	if (verdict == 0)
		fprintf(out, "Verdict: the backends agree on definitely lost blocks\n");
	else if (verdict == 1)
		fprintf(out, "Verdict: the backends differ on definitely lost blocks in %zu stack%s\n",
			ndiff, ndiff == 1 ? "" : "s");
	else
		fprintf(out, "Verdict: none: fewer than two backends ran\n");
}

static void json_cell(FILE *out, const struct set *s, const struct cell *c)
{
	bool any = false;
	fputc('{', out);
	for (int k = 0; k < LA_NKINDS; k++) {
		if (!c->blocks[k] && !c->bytes[k])
			continue;
		fprintf(out, "%s\"%s\": {\"bytes\": %llu, \"blocks\": %llu}", any ? ", " : "",
			kind_word(s, (enum la_kind)k), (unsigned long long)c->bytes[k],
			(unsigned long long)c->blocks[k]);
		any = true;
	}
	fputc('}', out);
}

static void print_json(FILE *out, char **argv, const struct opts *o, int verdict)
{
	fputs("{\"version\": 1, \"command\": [", out);
	for (int i = 0; argv && argv[i]; i++) {
		fputs(i ? ", " : "", out);
		la_json_str(out, argv[i]);
	}
	fprintf(out, "], \"depth\": %d, \"runs\": %d,\n \"backends\": [", o->depth, o->runs);
	for (int s = 0; s < nsets; s++) {
		const struct set *st = &sets[s];
		fprintf(out, "%s\n  {\"name\": ", s ? "," : "");
		la_json_str(out, st->name);
		fprintf(out, ", \"available\": %s, \"why\": ", st->available ? "true" : "false");
		la_json_str(out, st->available ? NULL : st->why);
		fprintf(out, ", \"seconds\": %.6f, \"report_seconds\": %.6f, \"run_seconds\": [",
			median(st->run, st->nruns), median(st->read, st->nruns));
		for (int k = 0; k < st->nruns; k++)
			fprintf(out, "%s%.6f", k ? ", " : "", st->run[k]);
		fprintf(out, "], \"splits_indirect\": %s, \"reports_possible\": %s, "
			     "\"reports_reachable\": %s, \"classified\": %s, \"totals\": ",
			st->limits & LA_LIMIT_NO_INDIRECT ? "false" : "true",
			st->limits & LA_LIMIT_NO_POSSIBLE ? "false" : "true",
			st->limits & LA_LIMIT_NO_REACHABLE ? "false" : "true",
			st->unclassified ? "false" : "true");
		struct cell c;
		totals(st, &c);
		json_cell(out, st, &c);
		fputs(", \"left_out\": [", out);
		for (size_t i = 0; i < st->nleft; i++) {
			const struct left *l = &st->left[i];
			fprintf(out, "%s{\"pid\": %ld, \"exe\": ", i ? ", " : "", l->pid);
			la_json_str(out, l->exe);
			fprintf(out, ", \"why\": \"%s\", \"forked_from\": %ld}",
				l->why == LEFT_FORK ? "fork" : "child", l->forked_from);
		}
		fputs("]}", out);
	}
	fputs("],\n \"rows\": [", out);
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		fprintf(out, "%s\n  {\"category\": \"%s\", \"definite_differs\": %s, \"key\": ",
			i ? "," : "", cat_name[r->cat], r->definite_differs ? "true" : "false");
		la_json_str(out, r->key);
		fputs(", \"stack\": [", out);
		const struct la_stack *st = &r->sample->stack;
		for (size_t k = 0; k < st->n; k++) {
			const struct la_frame *f = &st->f[k];
			fputs(k ? ", {\"fn\": " : "{\"fn\": ", out);
			la_json_str(out, f->fn);
			fputs(", \"file\": ", out);
			la_json_str(out, f->src);
			fprintf(out, ", \"line\": %d, \"inlined\": %s}", f->line,
				f->inlined ? "true" : "false");
		}
		fputs("], \"cells\": {", out);
		bool first = true;
		for (int s = 0; s < nsets; s++) {
			if (!sets[s].available)
				continue;
			fputs(first ? "" : ", ", out);
			first = false;
			la_json_str(out, sets[s].name);
			fputs(": ", out);
			json_cell(out, &sets[s], &r->cell[s]);
		}
		fputs("}, \"notes\": ", out);
		la_json_str(out, r->notes);
		fputc('}', out);
	}
	fprintf(out, "],\n \"verdict\": \"%s\", \"exit\": %d}\n",
		verdict == 0 ? "agree" : verdict == 1 ? "differ" : "none", verdict);
}

/* --- the command -------------------------------------------------------------- */

static const char usage[] =
	"usage: leakagent compare [options] -- PROG [ARGS...]\n"
	"       leakagent compare [options] --from-valgrind-xml FILE --from-tcmalloc-heap FILE ...\n"
	"\n"
	"Runs PROG under the agent and under each backend, matches their leak records\n"
	"by allocation stack and prints one table: records all agree on, differences\n"
	"a backend's design explains, records only some saw, and records whose kind,\n"
	"bytes or blocks differ. Backends: valgrind (memcheck), tcmalloc (the gperftools\n"
	"heap checker, 2.16 or older: later versions have none and are reported\n"
	"unavailable). A process some backend cannot report is left out of them all\n"
	"and listed under the backend table: forked children that did not exec (only\n"
	"the agent reports them), and, when valgrind runs without --trace-children,\n"
	"children started by exec.\n"
	"\n"
	"options:\n"
	"  --with=LIST               backends beside the agent: valgrind,tcmalloc [both]\n"
	"  --runs=N                  run each backend N times (1-100); times are medians,\n"
	"                            records that change between runs are flagged [1]\n"
	"  --depth=N                 frames matched: the allocating one and N-1 callers [4]\n"
	"  --format=FMT              text or json [text]\n"
	"  --output=FILE             write the table to FILE [stdout]\n"
	"  --heapcheck=MODE          tcmalloc's HEAPCHECK: normal, strict, draconian [normal]\n"
	"  --tcmalloc-lib=PATH       the libtcmalloc to preload [libtcmalloc.so.4]\n"
	"  --trace-children          also check the program's children (valgrind\n"
	"                            --trace-children=yes); without it, valgrind sees only\n"
	"                            the process it started, and the others' reports of\n"
	"                            children started by exec are left out\n"
	"  --num-callers=N           stack frames recorded, 1-256 [32]\n"
	"  --default-suppressions=yes|no  hide what the built-in default.supp matches\n"
	"                            in every backend's records, as memcheck does [yes]\n"
	"  --from-agent-report=FILE, --from-valgrind-xml=FILE, --from-tcmalloc-heap=FILE\n"
	"                            compare existing files instead of running (repeatable)\n"
	"\n"
	"exit status: 0 when the backends agree on definitely lost blocks, 1 when they\n"
	"differ, 2 on error (bad usage, unreadable output, fewer than two backends ran).\n";

enum { O_WITH = 300, O_RUNS, O_DEPTH, O_FORMAT, O_OUTPUT, O_HEAPCHECK, O_TCLIB, O_TRACE,
       O_CALLERS, O_FAGENT, O_FVG, O_FTC, O_HELP, O_DEFSUPP };

static const struct option longopts[] = {
	{ "with", required_argument, NULL, O_WITH },
	{ "runs", required_argument, NULL, O_RUNS },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "heapcheck", required_argument, NULL, O_HEAPCHECK },
	{ "tcmalloc-lib", required_argument, NULL, O_TCLIB },
	{ "trace-children", no_argument, NULL, O_TRACE },
	{ "num-callers", required_argument, NULL, O_CALLERS },
	{ "from-agent-report", required_argument, NULL, O_FAGENT },
	{ "from-valgrind-xml", required_argument, NULL, O_FVG },
	{ "from-tcmalloc-heap", required_argument, NULL, O_FTC },
	{ "default-suppressions", required_argument, NULL, O_DEFSUPP },
	{ "help", no_argument, NULL, O_HELP },
	{ 0 },
};

static int bad_usage(const char *what, const char *why)
{
	fprintf(stderr, "leakagent: error: %s: %s\nhint: leakagent compare --help lists the options\n",
		what, why);
	return 2;
}

static int number(const char *s, long lo, long hi, int *out)
{
	long v;
	if (la_parse_long(s, lo, hi, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static struct set *set_named(const char *name)
{
	for (int i = 0; i < nsets; i++)
		if (!strcmp(sets[i].name, name))
			return &sets[i];
	if (nsets == MAXSETS)
		return NULL;
	struct set *s = &sets[nsets++];
	s->name = name;
	s->available = true;
	return s;
}

struct file_input {
	char which;
	const char *path;
};

static void read_file(const struct file_input *f)
{
	struct set *s = set_named(f->which == 'a' ? "agent" : f->which == 'v' ? "valgrind"
									    : "tcmalloc");
	double t0 = now();
	s->nruns = 1;
	int rc;
	if (f->which == 'a') {
		struct la_raw *raw = la_xmalloc(sizeof(*raw));
		rc = la_raw_read(f->path, raw);
		if (raw->version)
			la_fromraw(raw, la_leakset_add(&s->ls[0]), 0);
		normalize_set(&s->ls[0]);
	} else if (f->which == 'v') {
		rc = la_vg_read(f->path, &s->ls[0]);
	} else {
		rc = la_tc_read(f->path, LA_TC_NORMAL, &s->ls[0]);
	}
	s->read[0] += now() - t0;
	if (rc < 0) {
		s->available = false;
		s->why = la_xasprintf("%s could not be read", f->path);
	}
}

int la_compare_main(int argc, char **argv)
{
	struct opts o = { .depth = 4, .runs = 1, .tcmode = LA_TC_NORMAL };
	bool want_vg = true, want_tc = true, default_supp = true;
	struct file_input *files = NULL;
	size_t nfiles = 0, fcap = 0;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		const char *a = optarg;
		switch (opt) {
		case O_WITH: {
			want_vg = want_tc = false;
			char *copy = la_xstrdup(a), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (!strcmp(t, "valgrind"))
					want_vg = true;
				else if (!strcmp(t, "tcmalloc"))
					want_tc = true;
				else if (strcmp(t, "none"))
					return bad_usage("--with", "expected a comma list of valgrind, "
								   "tcmalloc, or none");
			}
			free(copy);
			break;
		}
		case O_RUNS:
			if (number(a, 1, MAXRUNS, &o.runs))
				return bad_usage("--runs", "expected a number from 1 to 100");
			break;
		case O_DEPTH:
			if (number(a, 1, 64, &o.depth))
				return bad_usage("--depth", "expected a number of frames from 1 to 64");
			break;
		case O_CALLERS:
			if (number(a, 1, 256, &o.num_callers))
				return bad_usage("--num-callers", "expected a number from 1 to 256");
			break;
		case O_FORMAT:
			if (!strcmp(a, "json") || !strcmp(a, "text"))
				o.json = !strcmp(a, "json");
			else
				return bad_usage("--format", "expected text or json");
			break;
		case O_OUTPUT:
			o.output = a;
			break;
		case O_HEAPCHECK:
			if (!strcmp(a, "normal")) o.tcmode = LA_TC_NORMAL;
			else if (!strcmp(a, "strict")) o.tcmode = LA_TC_STRICT;
			else if (!strcmp(a, "draconian")) o.tcmode = LA_TC_DRACONIAN;
			else
				return bad_usage("--heapcheck", "expected normal, strict or draconian");
			break;
		case O_TCLIB:
			o.tclib = a;
			break;
		case O_TRACE:
			o.trace_children = true;
			break;
		case O_DEFSUPP:
			if (strcmp(a, "yes") && strcmp(a, "no"))
				return bad_usage("--default-suppressions", "expected yes or no");
			default_supp = !strcmp(a, "yes");
			break;
		case O_FAGENT:
		case O_FVG:
		case O_FTC:
			LA_GROW(files, nfiles, fcap);
			files[nfiles].which = opt == O_FAGENT ? 'a' : opt == O_FVG ? 'v' : 't';
			files[nfiles++].path = a;
			break;
		case 'h':
		case O_HELP:
			fputs(usage, stdout);
			return 0;
		case ':':
			return bad_usage(argv[optind - 1], "this option needs a value");
		default:
			return bad_usage(argv[optind - 1], "unknown option");
		}
	}
	char **prog = optind < argc ? argv + optind : NULL;
	if (!prog && !nfiles)
		return bad_usage("compare", "no program given (leakagent compare -- PROG ARGS)");
	if (prog && nfiles)
		return bad_usage("compare", "give a program to run or files to read, not both");
	struct la_sym_options symo = { 0 };
	la_sym_init(&symo);
	if (prog) {
		set_named("agent");
		if (want_vg)
			set_named("valgrind");
		if (want_tc)
			set_named("tcmalloc");
		if (want_vg)
			level_env(&o);
		/* runs interleave the backends, so a machine that slows down
		 * meanwhile slows them all */
		for (int run = 0; run < o.runs; run++)
			for (int s = 0; s < nsets; s++)
				if (sets[s].available)
					run_set(&sets[s], prog, &o);
	} else {
		for (size_t i = 0; i < nfiles; i++)
			read_file(&files[i]);
		o.runs = 1;
	}
	if (la_bad_input)
		return 2;
	if (prog)
		scope_sets(&o);
	/* Compare what each tool reports by default: memcheck leaves out what
	 * its default suppressions match and what glibc frees at exit for it, so
	 * the same default suppressions hide records of every set (the other
	 * sets' records are left out as suppressed ones are in a report). */
	if (default_supp && la_supp_load_default() == 0)
		for (int s = 0; s < nsets; s++)
			for (int k = 0; k < sets[s].nruns; k++)
				la_supp_apply(&sets[s].ls[k]);
	int navail = 0;
	for (int s = 0; s < nsets; s++) {
		finish_set(&sets[s]);
		navail += sets[s].available;
		if (!sets[s].available)
			la_warning(sets[s].name, "unavailable: %s", sets[s].why ? sets[s].why : "?");
	}
	build_rows(o.depth);
	classify();
	size_t ndiff = 0;
	for (size_t i = 0; i < nrows; i++)
		ndiff += rows[i].definite_differs;
	int verdict = navail < 2 ? 2 : ndiff ? 1 : 0;
	FILE *out = stdout;
	if (o.output && !(out = fopen(o.output, "we"))) {
		la_error(o.output, NULL, "cannot write the comparison: %s", strerror(errno));
		return 2;
	}
	if (o.json)
		print_json(out, prog, &o, verdict);
	else
		print_text(out, prog, &o, verdict, ndiff);
	if (out != stdout && fclose(out) != 0) {
		la_error(o.output, NULL, "cannot write the comparison: %s", strerror(errno));
		return 2;
	}
	if (verdict == 2)
		la_error("compare", NULL, "fewer than two backends ran: nothing to compare");
	return la_bad_input ? 2 : verdict;
}
