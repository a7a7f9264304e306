#include "collector.h"
void la_fmt_json(FILE *out, const struct la_leakset *ls, const struct la_out_options *o) { (void)out; (void)ls; (void)o; }
void la_fmt_xml(FILE *out, const struct la_process *p, const struct la_out_options *o) { (void)out; (void)p; (void)o; }
void la_fmt_sarif(FILE *out, const struct la_leakset *ls, const struct la_out_options *o) { (void)out; (void)ls; (void)o; }
void la_fmt_folded(FILE *out, const struct la_leakset *ls, const struct la_out_options *o) { (void)out; (void)ls; (void)o; }
