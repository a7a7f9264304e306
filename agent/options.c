/* options.c: the agent's runtime options, one table (LA_OPTIONS in agent.h)
 * read from LEAKAGENT_OPTIONS=key=value:key=value at start. Runs before
 * anything else is set up: no malloc, no stdio. A bad key or value warns once
 * and keeps the default, so a typo never stops the program.
 */
#include <string.h>
#include <unistd.h>

#include "agent.h"

struct la_options la_opt;

enum { T_INT, T_BOOL, T_STR };

struct opt_desc {
	const char *name, *help, *def_str;
	int type;
	long def_int;
	size_t off;
};

#define D_INT(name, def, help) { #name, help, #def, T_INT, (long)(def), offsetof(struct la_options, name) },
#define D_BOOL(name, def, help) { #name, help, #def, T_BOOL, (long)(def), offsetof(struct la_options, name) },
#define D_STR(name, def, help) { #name, help, def, T_STR, 0, offsetof(struct la_options, name) },
#define D(name, type, def, help) D_##type(name, def, help)
static const struct opt_desc table[] = { LA_OPTIONS(D) };
#undef D

#define NOPTS (sizeof(table) / sizeof(table[0]))

static void set_default(const struct opt_desc *d)
{
	char *field = (char *)&la_opt + d->off;
	if (d->type == T_INT)
		*(long *)field = d->def_int;
	else if (d->type == T_BOOL)
		*(int *)field = (int)d->def_int;
	else
		la_strlcpy(field, d->def_str, sizeof(la_opt.output));
}

static int parse_long(const char *s, size_t n, long *out)
{
	long v = 0;
	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int check_range(const struct opt_desc *d, long v)
{
	if (d->off == offsetof(struct la_options, depth))
		return v >= 1 && v <= LA_MAX_DEPTH;
	if (d->off == offsetof(struct la_options, signal_full) ||
	    d->off == offsetof(struct la_options, signal_delta))
		return v == 0 || (v >= 1 && v <= 64 && v != 9 && v != 19); /* not KILL, STOP */
	return 1;
}

static void set_one(const char *key, size_t klen, const char *val, size_t vlen)
{
	char name[64], value[256];
	const struct opt_desc *d = NULL;

	for (size_t i = 0; i < NOPTS; i++)
		if (eq(key, klen, table[i].name))
			d = &table[i];
	la_strlcpy(name, key, klen + 1 < sizeof(name) ? klen + 1 : sizeof(name));
	la_strlcpy(value, val, vlen + 1 < sizeof(value) ? vlen + 1 : sizeof(value));
	if (!d) {
		la_warn("unknown option '", name, "' in LEAKAGENT_OPTIONS ignored (help=1 lists them)",
			NULL);
		return;
	}
	char *field = (char *)&la_opt + d->off;
	long v;
	if (d->type == T_STR) {
		if (vlen == 0 || vlen >= sizeof(la_opt.output))
			goto bad;
		la_strlcpy(field, val, vlen + 1);
		return;
	}
	if (d->type == T_BOOL) {
		if (eq(val, vlen, "1") || eq(val, vlen, "yes") || eq(val, vlen, "true"))
			*(int *)field = 1;
		else if (eq(val, vlen, "0") || eq(val, vlen, "no") || eq(val, vlen, "false"))
			*(int *)field = 0;
		else
			goto bad;
		return;
	}
	if (parse_long(val, vlen, &v) < 0 || !check_range(d, v))
		goto bad;
	*(long *)field = v;
	return;
bad:
	la_warn("bad value '", value, "' for option '", name, "', using the default ",
		d->def_str, NULL);
}

void la_options_parse(const char *s)
{
	for (size_t i = 0; i < NOPTS; i++)
		set_default(&table[i]);
	while (s && *s) {
		const char *end = strchr(s, ':');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *eqs = memchr(s, '=', n);
		if (n > 0) {
			if (eqs)
				set_one(s, (size_t)(eqs - s), eqs + 1, n - (size_t)(eqs - s) - 1);
			else
				set_one(s, n, "1", 1); /* "help" alone means help=1 */
		}
		s = end ? end + 1 : s + n;
	}
}

void la_options_print_help(int fd)
{
	static const char *types[] = { "int", "bool", "string" };
	char line[1024];
	for (size_t i = 0; i < NOPTS; i++) {
		size_t n = 0;
		n += la_strlcpy(line + n, "  ", sizeof(line) - n);
		n += la_strlcpy(line + n, table[i].name, sizeof(line) - n);
		n += la_strlcpy(line + n, " (", sizeof(line) - n);
		n += la_strlcpy(line + n, types[table[i].type], sizeof(line) - n);
		n += la_strlcpy(line + n, ", default ", sizeof(line) - n);
		n += la_strlcpy(line + n, table[i].def_str, sizeof(line) - n);
		n += la_strlcpy(line + n, "): ", sizeof(line) - n);
		n += la_strlcpy(line + n, table[i].help, sizeof(line) - 1 - n);
		line[n++] = '\n';
		if (write(fd, line, n) < 0)
			return;
	}
}
