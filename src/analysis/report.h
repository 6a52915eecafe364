/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared output pieces of the analysis commands: root causes (JSON and text) and a list of notes
 * ("what we did about the input") printed to stderr and embedded in the JSON output. */
#ifndef KAPIMON_ANALYSIS_REPORT_H
#define KAPIMON_ANALYSIS_REPORT_H

#include <stdio.h>

#include "analysis/drilldown.h"
#include "output/json_writer.h"

struct notes {
	char **v;
	size_t n;
};

void notes_add(struct notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notes_free(struct notes *n);
/* "notes": [...] */
void notes_json(struct json_writer *w, const struct notes *n);
/* each note through p_info */
void notes_log(const struct notes *n, const char *cmd);

/* When a drill-down left significant deviation unexplained (> 20%), a note saying so (and, when the
 * search stopped short of the table's dimensions, which --max-depth to try). what: "" or a prefix. */
void notes_dd_unexplained(struct notes *n, const struct dd_summary *s, size_t ndims, const char *what);

/* "root_causes": [...] in the SLS series_drilldown shape */
void causes_json(struct json_writer *w, const struct dd_table *t, const struct dd_cause *c, long n);
/* "a=x, b=y" */
void cause_attrs_text(const struct dd_table *t, const struct dd_cause *c, char *buf, size_t cap);
/* a readable table, indented */
void causes_text(FILE *out, const struct dd_table *t, const struct dd_cause *c, long n, const char *indent);

#endif
