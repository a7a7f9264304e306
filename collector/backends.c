/* backends.c: `leakagent report --from-valgrind-xml FILE` and
 * `--from-tcmalloc-heap FILE`: other tools' files read into the same leak
 * set as the agent's raw reports, then suppressed and printed like them.
 */
#include "audit.h"

static struct {
	char which;
	const char *path;
} *files;
static size_t nfiles, cap;

void la_backend_file(char which, const char *path)
{
	LA_GROW(files, nfiles, cap);
	files[nfiles].which = which;
	files[nfiles++].path = path;
}

size_t la_backend_nfiles(void)
{
	return nfiles;
}

void la_backend_read_files(struct la_leakset *ls)
{
	for (size_t i = 0; i < nfiles; i++) {
		if (files[i].which == 'v') {
			la_vg_read(files[i].path, ls);
		} else if (la_tc_read(files[i].path, LA_TC_NORMAL, ls) == 0) {
			/* the text format has no word for "lost, direct or indirect" */
			la_warning(files[i].path, "the tcmalloc heap checker does not tell indirectly "
						  "from definitely lost blocks: all its leaks are shown "
						  "as definitely lost");
		}
	}
}
