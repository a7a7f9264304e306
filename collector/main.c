/* main.c: the leakagent command line: `leakagent [options] PROG [ARGS...]`,
 * `leakagent run [options] -- PROG [ARGS...]`, `leakagent report [options]
 * FILE...`, `leakagent snapshot [options] PID` and `leakagent diff [options]
 * OLD NEW`. Parses options, drives reader -> symbolizer -> leak set ->
 * suppressions -> formatter, and decides the exit code: 2 for bad usage or
 * bad input, 3 when a snapshot did not come in time, --error-exitcode when
 * asked and leaks were found, otherwise the program's own status (128+N when
 * it died of signal N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "audit.h"

#ifndef LA_VERSION
#define LA_VERSION "0.0"
#endif

struct cli {
	unsigned show_kinds, error_kinds;
	bool show_given, delta;
	double wait;                  /* snapshot: seconds; 0 = not given */
	int num_callers, resolution, error_exitcode; /* -1: not given */
	bool gen_supp;
	bool default_supp;            /* --default-suppressions, yes unless told */
	enum la_format format;
	const char *output;
	uint64_t min_bytes;
	const char **supp;
	size_t nsupp, suppcap;
	struct la_sym_options sym;
	size_t debugcap;
};

enum { O_SHOW = 256, O_ERRKINDS, O_CALLERS, O_SUPP, O_GENSUPP, O_FORMAT, O_OUTPUT, O_MINBYTES,
       O_RES, O_ERREXIT, O_SYSROOT, O_DEBUGDIR, O_HELP, O_VERSION, O_FROM_VG, O_FROM_TC,
       O_DELTA, O_WAIT, O_DEFSUPP };

#define LA_SNAPSHOT_WAIT 60.0 /* seconds: a scan of a big heap on a busy machine */

static const struct option longopts[] = {
	{ "show-leak-kinds", required_argument, NULL, O_SHOW },
	{ "errors-for-leak-kinds", required_argument, NULL, O_ERRKINDS },
	{ "num-callers", required_argument, NULL, O_CALLERS },
	{ "suppressions", required_argument, NULL, O_SUPP },
	{ "gen-suppressions", optional_argument, NULL, O_GENSUPP },
	{ "default-suppressions", required_argument, NULL, O_DEFSUPP },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "min-bytes", required_argument, NULL, O_MINBYTES },
	{ "leak-resolution", required_argument, NULL, O_RES },
	{ "error-exitcode", required_argument, NULL, O_ERREXIT },
	{ "sysroot", required_argument, NULL, O_SYSROOT },
	{ "debug-dir", required_argument, NULL, O_DEBUGDIR },
	{ "from-valgrind-xml", required_argument, NULL, O_FROM_VG },
	{ "from-tcmalloc-heap", required_argument, NULL, O_FROM_TC },
	{ "delta", no_argument, NULL, O_DELTA },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ 0 },
};

static const char usage[] =
	"usage: leakagent [options] PROG [ARGS...]\n"
	"       leakagent run [options] -- PROG [ARGS...]\n"
	"       leakagent report [options] FILE...\n"
	"       leakagent snapshot [--delta] [--wait SECONDS] [options] PID\n"
	"       leakagent diff [options] OLD NEW\n"
	"       leakagent compare [--with valgrind,tcmalloc] [--runs N] -- PROG [ARGS...]\n"
	"\n"
	"Runs PROG with the leak agent preloaded (keeping any LD_PRELOAD already set),\n"
	"waits for it, and prints the symbolized report of it and its children on\n"
	"stderr. `report` symbolizes raw reports written earlier (LEAKAGENT_OPTIONS=output=...).\n"
	"`snapshot` asks the agent in the running process PID for a report now, waits\n"
	"for it and prints it; --delta: only the blocks allocated since the previous\n"
	"delta report that are still outstanding, and which stacks grew since then.\n"
	"`diff` prints the records that appeared or grew between two reports of one\n"
	"process (all kinds unless --show-leak-kinds says otherwise).\n"
	"\n"
	"options:\n"
	"  --show-leak-kinds=LIST        kinds of records shown: definite,indirect,possible,\n"
	"                                reachable,unclassified, or all, or none\n"
	"                                [definite,possible,unclassified]\n"
	"  --errors-for-leak-kinds=LIST  kinds that count for --error-exitcode\n"
	"                                [definite,possible,unclassified]\n"
	"  --error-exitcode=N            exit with N (1-255) when leaks of those kinds or bad\n"
	"                                frees were found [the program's own status]\n"
	"  --num-callers=N               stack frames captured and shown, 1-256 [32]\n"
	"  --leak-resolution=N           merge records (and growth entries) whose top N\n"
	"                                frames agree; low=2, med=4, high=all [high]\n"
	"  --min-bytes=N                 hide records (and growth) smaller than N bytes [0]\n"
	"  --suppressions=FILE           valgrind .supp or LeakSanitizer leak: file (repeatable)\n"
	"  --default-suppressions=yes|no apply the built-in suppressions of glibc's and\n"
	"                                ld.so's own lifetime allocations [yes]\n"
	"  --gen-suppressions[=yes|no]   print a valgrind suppression for each record (and\n"
	"                                growth entry) shown\n"
	"  --format=FMT                  text, json, xml (valgrind protocol 4), sarif, folded\n"
	"                                [text]\n"
	"  --output=FILE                 write the report to FILE [stderr]; %p in FILE is\n"
	"                                replaced by the pid (xml: one file per process)\n"
	"  --sysroot=DIR                 look for the recorded binaries under DIR (report)\n"
	"  --debug-dir=DIR               also look for separate debug info in DIR (repeatable)\n"
	"  --from-valgrind-xml=FILE      report: read memcheck XML (protocol 4-6) (repeatable)\n"
	"  --from-tcmalloc-heap=FILE     report: read a heap checker .heap file (repeatable)\n"
	"  --delta                       snapshot: a delta report instead of a full one\n"
	"  --wait=SECONDS                snapshot: how long to wait for the report [60]\n"
	"  --help                        this text\n"
	"  --version                     leakagent's version\n"
	"\n"
	"exit status: the program's (128+N if it died of signal N; 0 for report, snapshot,\n"
	"diff), --error-exitcode's when asked and leaks were found, 2 for bad usage or bad\n"
	"input (a corrupt or truncated report, a missing or replaced binary, no report\n"
	"written, a process that cannot be snapshot), 3 when a snapshot did not come\n"
	"within --wait.\n"
	"environment: LEAKAGENT_OPTIONS (agent options, kept), LEAKAGENT_AGENT (the agent to\n"
	"preload), DEBUGINFOD_URLS (fetch missing debug info; off when unset).\n";

static int bad_usage(const char *what, const char *why)
{
	fprintf(stderr, "leakagent: error: %s: %s\nhint: leakagent --help lists the options\n", what,
		why);
	return 2;
}

/* The option as typed, for messages: "--format=x", or "--format x" when the
 * value was the next argument. */
static const char *typed(char **argv)
{
	static char buf[256];
	const char *last = argv[optind - 1];
	if (optind >= 2 && strncmp(last, "--", 2) != 0) {
		snprintf(buf, sizeof(buf), "%s %s", argv[optind - 2], last);
		return buf;
	}
	return last;
}

/* permute: options may follow the files or the pid (report, snapshot, diff);
 * run stops at the program's name, whose own options follow. */
static int parse(struct cli *c, int argc, char **argv, bool permute)
{
	int opt;
	long v;
	char range[64];
	opterr = 0;
	while ((opt = getopt_long(argc, argv, permute ? ":h" : "+:h", longopts, NULL)) != -1) {
		const char *a = optarg;
		switch (opt) {
		case O_SHOW:
		case O_ERRKINDS:
			if (la_kind_parse_list(a, opt == O_SHOW ? &c->show_kinds : &c->error_kinds) < 0)
				return bad_usage(typed(argv),
						 "expected a comma list of definite, indirect, possible, "
						 "reachable, unclassified, or all, or none");
			c->show_given |= opt == O_SHOW;
			break;
		case O_DELTA:
			c->delta = true;
			break;
		case O_WAIT: {
			char *end;
			errno = 0;
			c->wait = strtod(a, &end);
			if (!*a || *end || errno || !(c->wait > 0 && c->wait <= 86400))
				return bad_usage(typed(argv), "expected a number of seconds, more than 0 "
						 "and at most 86400");
			break;
		}
		case O_CALLERS:
			if (la_parse_long(a, 1, 256, &v) < 0)
				return bad_usage(typed(argv), "expected a number from 1 to 256");
			c->num_callers = (int)v;
			break;
		case O_SUPP:
			LA_GROW(c->supp, c->nsupp, c->suppcap);
			c->supp[c->nsupp++] = a;
			break;
		case O_GENSUPP:
			if (!a || !strcmp(a, "yes") || !strcmp(a, "all"))
				c->gen_supp = true;
			else if (!strcmp(a, "no"))
				c->gen_supp = false;
			else
				return bad_usage(typed(argv), "expected yes, all or no");
			break;
		case O_DEFSUPP:
			if (!strcmp(a, "yes"))
				c->default_supp = true;
			else if (!strcmp(a, "no"))
				c->default_supp = false;
			else
				return bad_usage(typed(argv), "expected yes or no");
			break;
		case O_FORMAT:
			if (!strcmp(a, "text")) c->format = LA_FMT_TEXT;
			else if (!strcmp(a, "json")) c->format = LA_FMT_JSON;
			else if (!strcmp(a, "xml")) c->format = LA_FMT_XML;
			else if (!strcmp(a, "sarif")) c->format = LA_FMT_SARIF;
			else if (!strcmp(a, "folded")) c->format = LA_FMT_FOLDED;
			else
				return bad_usage(typed(argv),
						 "expected text, json, xml, sarif or folded");
			break;
		case O_OUTPUT:
			if (!*a)
				return bad_usage("--output", "expected a file name");
			c->output = a;
			break;
		case O_MINBYTES:
			if (la_parse_long(a, 0, LONG_MAX, &v) < 0)
				return bad_usage(typed(argv), "expected a number of bytes");
			c->min_bytes = (uint64_t)v;
			break;
		case O_RES:
			if (!strcmp(a, "low")) c->resolution = 2;
			else if (!strcmp(a, "med")) c->resolution = 4;
			else if (!strcmp(a, "high") || !strcmp(a, "all")) c->resolution = 0;
			else if (la_parse_long(a, 1, 256, &v) == 0) c->resolution = (int)v;
			else
				return bad_usage(typed(argv),
						 "expected a number of frames, or low, med, high");
			break;
		case O_ERREXIT:
			if (la_parse_long(a, 1, 255, &v) < 0)
				return bad_usage(typed(argv), "expected a number from 1 to 255");
			c->error_exitcode = (int)v;
			break;
		case O_SYSROOT:
			c->sym.sysroot = a;
			break;
		case O_FROM_VG:
		case O_FROM_TC:
			la_backend_file(opt == O_FROM_VG ? 'v' : 't', a);
			break;
		case O_DEBUGDIR:
			LA_GROW(c->sym.debug_dirs, c->sym.ndebug_dirs, c->debugcap);
			c->sym.debug_dirs[c->sym.ndebug_dirs++] = a;
			break;
		case 'h':
		case O_HELP:
			fputs(usage, stdout);
			exit(0);
		case O_VERSION:
			printf("leakagent %s\n", LA_VERSION);
			exit(0);
		case ':':
			return bad_usage(typed(argv), "this option needs a value");
		default:
			if (optopt && optopt < 256)
				snprintf(range, sizeof(range), "-%c", optopt);
			else
				snprintf(range, sizeof(range), "%s", argv[optind - 1]);
			if (strchr(range, '='))
				*strchr(range, '=') = 0;
			return bad_usage(range, optopt >= O_SHOW ? "this option takes no value"
								 : "unknown option");
		}
	}
	return 0;
}

/* Output to a file that is one of the inputs would overwrite a report. */
static int is_input(const char *out, char **inputs, size_t n)
{
	struct stat so, si;
	if (stat(out, &so) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
			return 1;
	return 0;
}

static char *expand_pid(const char *tmpl, long pid)
{
	const char *p = strstr(tmpl, "%p");
	if (!p)
		return la_xstrdup(tmpl);
	return la_xasprintf("%.*s%ld%s", (int)(p - tmpl), tmpl, pid, p + 2);
}

static FILE *open_out(const char *path)
{
	if (!path)
		return stderr;
	FILE *f = fopen(path, "we");
	if (!f)
		la_error(path, NULL, "cannot write the report: %s", strerror(errno));
	return f;
}

static int emit(const struct cli *c, const struct la_leakset *ls)
{
	struct la_out_options o = { c->show_kinds, c->gen_supp, LA_VERSION, c->min_bytes };
	if (c->format == LA_FMT_XML) {
		bool per_pid = c->output && strstr(c->output, "%p");
		if (ls->nproc > 1 && !per_pid)
			la_warning("--format=xml", "%zu processes wrote reports; the xml holds the first "
				   "only (--output=FILE.%%p.xml writes one document per process)",
				   ls->nproc);
		for (size_t i = 0; i < ls->nproc && (i == 0 || per_pid); i++) {
			char *path = c->output ? expand_pid(c->output, ls->proc[i].pid) : NULL;
			FILE *f = open_out(path);
			if (!f)
				return -1;
			la_fmt_xml(f, &ls->proc[i], &o);
			if (f != stderr)
				fclose(f);
			free(path);
		}
		return 0;
	}
	char *path = c->output ? expand_pid(c->output, ls->nproc ? ls->proc[0].pid : 0) : NULL;
	FILE *f = open_out(path);
	free(path);
	if (!f)
		return -1;
	switch (c->format) {
	case LA_FMT_JSON: la_fmt_json(f, ls, &o); break;
	case LA_FMT_SARIF: la_fmt_sarif(f, ls, &o); break;
	case LA_FMT_FOLDED: la_fmt_folded(f, ls, &o); break;
	default: la_fmt_text(f, ls, &o); break;
	}
	if (f != stderr && fclose(f) != 0) {
		la_error(c->output, NULL, "cannot write the report: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads, symbolizes, suppresses and prints; returns the number of errors
 * that count for --error-exitcode. */
static uint64_t process(const struct cli *c, char **files, size_t n)
{
	struct la_leakset ls = { 0 };
	la_sym_init(&c->sym);
	la_backend_read_files(&ls);
	for (size_t i = 0; i < n; i++) {
		struct la_raw *raw = la_xmalloc(sizeof(*raw));
		la_raw_read(files[i], raw);
		if (!raw->version)
			continue; /* nothing usable: already reported */
		la_fromraw(raw, la_leakset_add(&ls), c->num_callers);
	}
	la_leakset_merge(&ls, c->resolution);
	la_supp_apply(&ls);
	la_leakset_finish(&ls, c->show_kinds, c->min_bytes);
	emit(c, &ls);
	return la_leakset_errors(&ls, c->error_kinds, c->min_bytes);
}

static int exit_code(const struct cli *c, uint64_t errors, int program_status)
{
	if (la_bad_input)
		return 2;
	if (c->error_exitcode > 0 && errors)
		return c->error_exitcode;
	return program_status;
}

static int cmd_report(struct cli *c, int argc, char **argv)
{
	if (optind >= argc && !la_backend_nfiles())
		return bad_usage("report", "no report file given");
	char **files = argv + optind;
	size_t n = (size_t)(argc - optind);
	if (c->output && is_input(c->output, files, n))
		return bad_usage(c->output, "is one of the reports read; it would be overwritten");
	uint64_t errors = process(c, files, n);
	return exit_code(c, errors, 0);
}

static int cmd_run(struct cli *c, int argc, char **argv)
{
	if (optind >= argc)
		return bad_usage("run", "no program given");
	struct la_run_result r;
	if (la_run(argv + optind, c->num_callers, NULL, &r) < 0) {
		la_run_cleanup(&r);
		return 2;
	}
	/* a reader of our output that went away (| head) must not keep us from
	 * removing the report directory: writes fail with EPIPE instead */
	signal(SIGPIPE, SIG_IGN);
	int status = WIFSIGNALED(r.status) ? 128 + WTERMSIG(r.status) : WEXITSTATUS(r.status);
	uint64_t errors = 0;
	if (!r.nreports && WIFSIGNALED(r.status))
		/* not bad input: the program died first; its status says so */
		la_warning(argv[optind], "no leak report: the program died of %s before writing one",
			   strsignal(WTERMSIG(r.status)));
	else if (!r.nreports)
		la_error(argv[optind],
			 "LD_PRELOAD is ignored by set-user-ID programs and cannot reach statically "
			 "linked ones",
			 "no leak report was written: the agent did not run in it");
	else
		errors = process(c, r.reports, r.nreports);
	la_run_cleanup(&r);
	return exit_code(c, errors, status);
}

static int cmd_snapshot(struct cli *c, int argc, char **argv)
{
	long pid;
	if (optind >= argc)
		return bad_usage("snapshot", "no process id given");
	if (argc - optind > 1)
		return bad_usage(argv[optind + 1], "snapshot takes one process id");
	if (la_parse_long(argv[optind], 1, INT_MAX, &pid) < 0)
		return bad_usage(argv[optind], "expected a process id (a positive number)");
	char *path;
	int rc = la_snapshot(pid, c->delta, c->wait > 0 ? c->wait : LA_SNAPSHOT_WAIT, &path);
	if (rc)
		return rc > 0 ? 3 : 2;
	signal(SIGPIPE, SIG_IGN);
	uint64_t errors = process(c, &path, 1);
	return exit_code(c, errors, 0);
}

static int cmd_diff(struct cli *c, int argc, char **argv)
{
	if (argc - optind != 2)
		return bad_usage("diff", "expected two report files: OLD NEW");
	if (c->output && is_input(c->output, argv + optind, 2))
		return bad_usage(c->output, "is one of the reports read; it would be overwritten");
	if (!c->show_given)
		c->show_kinds = LA_KINDS_ALL; /* growth of any kind is what a diff is for */
	struct la_leakset ls = { 0 };
	la_sym_init(&c->sym);
	if (la_diff_read(argv[optind], argv[optind + 1], c->num_callers, c->resolution, &ls) < 0)
		return 2;
	la_supp_apply(&ls);
	la_leakset_finish(&ls, c->show_kinds, c->min_bytes);
	emit(c, &ls);
	return exit_code(c, la_leakset_errors(&ls, c->error_kinds, c->min_bytes), 0);
}

int main(int argc, char **argv)
{
	struct cli c = { .num_callers = 0, .resolution = 0, .error_exitcode = -1,
			 .format = LA_FMT_TEXT, .default_supp = true };
	la_kind_parse_list("definite,possible,unclassified", &c.show_kinds);
	c.error_kinds = c.show_kinds;
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "compare"))
		return la_compare_main(argc - 1, argv + 1);
	bool report = !strcmp(argv[1], "report"), run = !strcmp(argv[1], "run");
	bool snapshot = !strcmp(argv[1], "snapshot"), diff = !strcmp(argv[1], "diff");
	if (report || run || snapshot || diff) {
		argv++;
		argc--;
	}
	int rc = parse(&c, argc, argv, report || snapshot || diff);
	if (rc)
		return rc;
	/* first, as valgrind puts default.supp before the user's files: the
	 * first entry that matches a record is the one counted as used */
	if (c.default_supp)
		la_supp_load_default();
	for (size_t i = 0; i < c.nsupp; i++)
		la_supp_load(c.supp[i]);
	if (la_bad_input)
		return 2;
	if (!snapshot && (c.delta || c.wait > 0))
		return bad_usage(c.delta ? "--delta" : "--wait", "only snapshot takes this option");
	if (snapshot)
		return cmd_snapshot(&c, argc, argv);
	if (diff)
		return cmd_diff(&c, argc, argv);
	return report ? cmd_report(&c, argc, argv) : cmd_run(&c, argc, argv);
}
