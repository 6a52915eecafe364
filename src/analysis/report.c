// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

void notes_add(struct notes *n, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	char **v;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	v = realloc(n->v, (n->n + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return;
	}
	n->v = v;
	n->v[n->n++] = s;
}

void notes_free(struct notes *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

void notes_json(struct json_writer *w, const struct notes *n)
{
	jw_key(w, "notes");
	jw_arr_begin(w);
	for (size_t i = 0; i < n->n; i++)
		jw_str(w, n->v[i]);
	jw_arr_end(w);
}

void notes_log(const struct notes *n, const char *cmd)
{
	for (size_t i = 0; i < n->n; i++)
		p_info("%s: %s", cmd, n->v[i]);
}

void causes_json(struct json_writer *w, const struct dd_table *t, const struct dd_cause *c, long n)
{
	jw_key(w, "root_causes");
	jw_arr_begin(w);
	for (long i = 0; i < n; i++) {
		jw_obj_begin(w);
		jw_key(w, "attrs");
		jw_obj_begin(w);
		for (int j = 0; j < c[i].depth; j++)
			jw_kv_str(w, t->dim_names[c[i].dims[j]], dd_value(t, c[i].dims[j], c[i].codes[j]));
		jw_obj_end(w);
		jw_key(w, "statistics");
		jw_obj_begin(w);
		jw_kv_double(w, "relative_ratio", c[i].relative_ratio);
		jw_kv_double(w, "relative_unexpected_difference", c[i].relative_unexpected_difference);
		jw_kv_double(w, "difference", c[i].pred - c[i].real);
		jw_kv_double(w, "predict", c[i].pred);
		jw_kv_double(w, "real", c[i].real);
		jw_kv_uint(w, "support", c[i].support);
		jw_obj_end(w);
		jw_kv_double(w, "score", c[i].score);
		jw_kv_str(w, "direction", c[i].direction > 0 ? "rise" : "drop");
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void cause_attrs_text(const struct dd_table *t, const struct dd_cause *c, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int j = 0; j < c->depth && o < cap; j++) {
		int r = snprintf(buf + o, cap - o, "%s%s=%s", j ? ", " : "", t->dim_names[c->dims[j]],
				 dd_value(t, c->dims[j], c->codes[j]));

		if (r < 0)
			break;
		o += (size_t)r;
	}
}

void causes_text(FILE *out, const struct dd_table *t, const struct dd_cause *c, long n, const char *indent)
{
	char attrs[512];

	if (n <= 0) {
		fprintf(out, "%s(no root cause found)\n", indent);
		return;
	}
	fprintf(out, "%s%-3s %-50s %12s %12s %8s %8s %8s\n", indent, "#", "ATTRIBUTES", "REAL", "PREDICT", "RATIO",
		"SHARE", "SUPPORT");
	for (long i = 0; i < n; i++) {
		cause_attrs_text(t, &c[i], attrs, sizeof(attrs));
		fprintf(out, "%s%-3ld %-50s %12.6g %12.6g %+8.3f %+8.3f %8zu\n", indent, i + 1, attrs, c[i].real,
			c[i].pred, c[i].relative_ratio, c[i].relative_unexpected_difference, c[i].support);
	}
}

void notes_dd_unexplained(struct notes *n, const struct dd_summary *s, size_t ndims, const char *what)
{
	if (!(s->unexplained > 0.2))
		return;
	if ((size_t)s->max_depth < ndims)
		notes_add(n, "%s%.0f%% of the significant deviation is in no cause found up to depth %d: a deeper cause? try --max-depth %d",
			  what, 100 * s->unexplained, s->max_depth, s->max_depth + 1);
	else
		notes_add(n, "%s%.0f%% of the significant deviation is in no cause (spread over leaves that share no attribute)",
			  what, 100 * s->unexplained);
}
