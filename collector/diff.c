/* diff.c: `leakagent diff OLD NEW`: reads two raw reports of one process
 * and keeps, of NEW, what appeared or grew since OLD (la_leakset_diff does
 * the arithmetic). Refuses reports of different processes and damaged ones:
 * a diff against half a report would show everything as new.
 */
#include <string.h>

#include "collector.h"

static int read_one(const char *path, struct la_raw *raw)
{
	if (la_raw_read(path, raw) < 0)
		return -1; /* already reported; a partial report makes a wrong diff */
	if (!raw->pid) {
		la_error(path, NULL, "the report names no process (no 'p' line)");
		return -1;
	}
	return 0;
}

int la_diff_read(const char *oldp, const char *newp, int num_callers, int resolution,
		 struct la_leakset *out)
{
	struct la_raw *o = la_xmalloc(sizeof(*o)), *n = la_xmalloc(sizeof(*n));
	int bad = read_one(oldp, o);
	bad |= read_one(newp, n);
	if (bad)
		return -1; /* nothing compared: a diff needs both reports whole */
	if (o->pid != n->pid || strcmp(o->exe ? o->exe : "", n->exe ? n->exe : "") != 0) {
		la_error("diff", "take both with leakagent snapshot PID (or the agent's signal) from "
			 "one running process",
			 "%s is a report of pid %ld (%s), %s of pid %ld (%s): a diff needs two reports "
			 "of one process", oldp, o->pid, o->exe ? o->exe : "?", newp, n->pid,
			 n->exe ? n->exe : "?");
		return -1;
	}
	if (n->seq < o->seq)
		la_warning("diff", "%s (report #%u) is older than %s (report #%u): the order is OLD "
			   "NEW", newp, n->seq, oldp, o->seq);
	else if (n->seq == o->seq)
		la_warning("diff", "%s and %s are the same report (#%u)", oldp, newp, n->seq);
	for (int i = 0; i < 2; i++) {
		const struct la_raw *r = i ? n : o;
		if (r->delta)
			la_warning(r->path, "a delta report holds only the blocks allocated since "
				   "report #%u: diff two full reports to see all growth", r->base_seq);
	}
	struct la_leakset old = { 0 };
	la_fromraw(o, la_leakset_add(&old), num_callers);
	la_fromraw(n, la_leakset_add(out), num_callers);
	la_leakset_merge(&old, resolution);
	la_leakset_merge(out, resolution);
	la_leakset_diff(&old.proc[0], &out->proc[0]);
	return 0;
}
