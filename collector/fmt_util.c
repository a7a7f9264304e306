/* fmt_util.c: small pieces every output format shares: escaping for JSON
 * and XML, family names, and the memcheck-style "where" of a frame.
 */
#include <string.h>

#include "collector.h"

void la_json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void la_xml_str(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		default:
			/* control characters are not allowed in XML 1.0 at all */
			fputc(*p < 0x20 && *p != '\t' && *p != '\n' ? '?' : *p, out);
		}
	}
}

const char *la_family_name(char fam)
{
	switch (fam) {
	case 'm': return "malloc";
	case 'n': return "new";
	case 'a': return "new[]";
	default: return "unknown";
	}
}

const char *la_src_base(const char *src)
{
	const char *s = src ? strrchr(src, '/') : NULL;
	return s ? s + 1 : src;
}

void la_frame_where(FILE *out, const struct la_frame *f)
{
	fputs(f->fn ? f->fn : "???", out);
	if (f->src && f->line)
		fprintf(out, " (%s:%d)", la_src_base(f->src), f->line);
	else if (f->obj && f->fn)
		fprintf(out, " (in %s)", f->obj);
	else if (f->obj)
		fprintf(out, " (in %s+0x%llx)", f->obj, (unsigned long long)f->offset);
}
