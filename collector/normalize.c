/* normalize.c: makes stacks from different tools comparable: removes the
 * allocator's own frames (malloc and friends, operator new, valgrind's and
 * tcmalloc's replacement functions, the agent) from the innermost end, so
 * every backend's stack starts at the program's allocating function.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <string.h>

#include "audit.h"

/* C allocation entry points as every tool names them. strdup and friends
 * are not here: they are libc code calling malloc, and every tool sees them
 * the same way. */
static const char *const c_alloc[] = {
	"malloc", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
	"aligned_alloc", "valloc", "pvalloc", NULL,
};

static bool prefixed(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool obj_is_allocator(const char *obj)
{
	if (!obj)
		return false;
	const char *base = strrchr(obj, '/');
	base = base ? base + 1 : obj;
	/* vgpreload_memcheck-*.so holds valgrind's replacements; libtcmalloc*
	 * its own allocator (the .heap file has these removed already, the
	 * check costs nothing); libleakagent the agent's hooks */
	return prefixed(base, "vgpreload_") || prefixed(base, "libtcmalloc") ||
	       prefixed(base, "libleakagent");
}

/* 'm', 'n', 'a' for an allocator function name, 0 for any other */
static char alloc_family(const char *fn)
{
	if (!fn)
		return 0;
	if (prefixed(fn, "operator new[]"))
		return 'a';
	if (prefixed(fn, "operator new"))
		return 'n';
	for (int i = 0; c_alloc[i]; i++)
		if (!strcmp(fn, c_alloc[i]))
			return 'm';
	/* tcmalloc's exported names: tc_malloc, tc_new, tc_newarray_nothrow ... */
	if (prefixed(fn, "tc_newarray"))
		return 'a';
	if (prefixed(fn, "tc_new"))
		return 'n';
	if (prefixed(fn, "tc_"))
		return 'm';
	return 0;
}

char la_norm_strip(struct la_stack *st)
{
	char fam = '?';
	size_t k = 0;
	while (k < st->n) {
		const struct la_frame *f = &st->f[k];
		char a = alloc_family(f->fn);
		if (!a && !obj_is_allocator(f->obj))
			break;
		/* the outermost allocator frame names the API the program called
		 * (operator new calls malloc inside some allocators) */
		if (a)
			fam = a;
		k++;
	}
	/* a stack of nothing but allocator frames keeps them: an empty stack
	 * would match every other empty stack */
	if (k > 0 && k < st->n) {
		st->f += k;
		st->n -= k;
	}
	return fam;
}

/* A symbol version as memcheck prints it (pthread_create@@GLIBC_2.34,
 * memcpy@GLIBC_2.2.5): the agent's symbolizer names the function without it. */
static size_t version_at(const char *fn)
{
	const char *at = strchr(fn, '@');
	if (!at || at == fn)
		return strlen(fn);
	const char *v = at[1] == '@' ? at + 2 : at + 1;
	if (!*v)
		return strlen(fn);
	for (const char *q = v; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.')
			return strlen(fn);
	return (size_t)(at - fn);
}

char *la_norm_name(const char *fn)
{
	size_t n = version_at(fn);
	char *o = la_xmalloc(n + 1), *p = o;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)fn[i]))
			*p++ = fn[i];
	*p = 0;
	return o;
}
