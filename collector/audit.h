/* audit.h: the audit side of the collector, grouped by defining file: the
 * valgrind and tcmalloc backends (files read into the leak-set model, runs of
 * a program under each tool), the allocator-frame normalizer and `compare`.
 * Every backend fills the same leakset.h model; compare reads only that.
 */
#ifndef LEAKAGENT_AUDIT_H
#define LEAKAGENT_AUDIT_H

#include "collector.h"

/* --- normalize.c: one stack shape for every tool ----------------------------- */
/* Drops the allocator's own frames from the innermost end of a stack (malloc,
 * operator new, valgrind's and tcmalloc's replacements, the agent) and
 * returns the family their names reveal ('m', 'n', 'a'), or '?' when none
 * were there to tell. */
char la_norm_strip(struct la_stack *st);
/* A function name in the form used for matching: without blanks, so the
 * spacing two demanglers choose ("> >" or ">>") does not matter. */
char *la_norm_name(const char *fn);

/* --- spawn.c: a program under a tool, its output kept aside ------------------ */
struct la_spawn {
	char *const *argv;     /* the tool's command line, argv[0] searched in PATH */
	const char **setenv;   /* "NAME=value" pairs added to the environment */
	size_t nsetenv;
	const char *log;       /* stdout and stderr of the run go here */
	int status;            /* wait status */
	double seconds;        /* wall time from fork to exit */
	long pid;              /* the process started (the tool, then the program by exec) */
};
/* Runs and waits. Returns 0, or a negative errno when the tool could not be
 * started at all (ENOENT: not installed); reports nothing itself. */
int la_spawn_run(struct la_spawn *s);
/* The whole log (NULL when unreadable), for banners and error messages. */
char *la_spawn_log(const char *path);
/* The last line of a log that is not empty, for "why it failed". */
char *la_spawn_last_line(const char *log);

/* --- backend_valgrind.c ------------------------------------------------------ */
/* Reads one memcheck XML file (protocol 4, 5 or 6) into a new process of ls.
 * Returns 0, or -1 after one la_error naming the file and the reason. */
int la_vg_read(const char *path, struct la_leakset *ls);
struct la_backend_run {
	bool available;       /* the tool ran and its verdict can be trusted */
	char *why;            /* when not available: one line saying why */
	double seconds;
	int status;
	long pid;             /* the process launched: the program's pid in the tool's output */
};
/* Runs argv under memcheck (output in dir), with env ("NAME=value", nenv
 * of them) added to its environment; reads every XML file it wrote into ls.
 * Sets r->available; returns -1 only for errors of input. */
int la_vg_run(char **argv, const char *dir, bool trace_children, int num_callers,
	      const char **env, size_t nenv, struct la_leakset *ls, struct la_backend_run *r);
/* The environment a program run under valgrind gets (valgrind adds
 * LD_PRELOAD; a wrapper script, such as Debian's /usr/bin/valgrind, adds
 * more), as "NAME=value" strings, NULL-terminated; NULL when valgrind could
 * not tell. Runs env under --tool=none, with its log in dir. */
char **la_vg_client_env(const char *dir);

/* --- backend_tcmalloc.c ------------------------------------------------------ */
enum la_tc_mode { LA_TC_NORMAL, LA_TC_STRICT, LA_TC_DRACONIAN };
/* Reads one heap-checker .heap file, symbolizing its addresses with the
 * mapped-libraries section. `mode` sets which kinds its records carry.
 * Returns 0, or -1 after one la_error. */
int la_tc_read(const char *path, enum la_tc_mode mode, struct la_leakset *ls);
/* Runs argv with libtcmalloc preloaded and HEAPCHECK set; the checker must
 * print its banner, or the backend is unavailable (gperftools 2.17 and later
 * keep HEAPCHECK but check nothing). lib: NULL for the installed one. */
int la_tc_run(char **argv, const char *dir, const char *lib, enum la_tc_mode mode,
	      struct la_leakset *ls, struct la_backend_run *r);

/* --- report --from-valgrind-xml / --from-tcmalloc-heap (backend files) ------- */
void la_backend_file(char which, const char *path); /* 'v' valgrind, 't' tcmalloc */
size_t la_backend_nfiles(void);
void la_backend_read_files(struct la_leakset *ls);

/* --- compare.c --------------------------------------------------------------- */
/* `leakagent compare [options] -- PROG ARGS`: argv[0] is "compare". */
int la_compare_main(int argc, char **argv);

#endif
