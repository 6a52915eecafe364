// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "input/csv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void csv_init(struct csv_reader *r, FILE *f, char delim)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->delim = delim ? delim : ',';
	r->first = true;
}

void csv_free(struct csv_reader *r)
{
	free(r->line);
	free(r->buf);
	free(r->fields);
	free(r->quoted);
	free(r->offs);
	memset(r, 0, sizeof(*r));
}

static int err_at(struct csv_error *e, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->line = line;
	e->col = col;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static bool buf_put(struct csv_reader *r, char c)
{
	if (r->buf_len + 1 >= r->buf_cap) {
		size_t nc = r->buf_cap ? r->buf_cap * 2 : 256;
		char *b = realloc(r->buf, nc);

		if (!b)
			return false;
		r->buf = b;
		r->buf_cap = nc;
	}
	r->buf[r->buf_len++] = c;
	return true;
}

static bool field_start(struct csv_reader *r, bool q)
{
	if (r->nfields == r->fcap) {
		size_t nc = r->fcap ? r->fcap * 2 : 16;
		size_t *o = realloc(r->offs, nc * sizeof(*o));
		bool *qq;

		if (!o)
			return false;
		r->offs = o;
		qq = realloc(r->quoted, nc * sizeof(*qq));
		if (!qq)
			return false;
		r->quoted = qq;
		r->fcap = nc;
	}
	r->offs[r->nfields] = r->buf_len;
	r->quoted[r->nfields] = q;
	r->nfields++;
	return true;
}

/* Read one physical line; strips the line end. Returns its length or -1 at EOF. */
static ssize_t read_line(struct csv_reader *r)
{
	ssize_t n = getline(&r->line, &r->line_cap, r->f);

	if (n < 0)
		return -1;
	r->lineno++;
	if (n > 0 && r->line[n - 1] == '\n')
		n--;
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	return n;
}

int csv_next(struct csv_reader *r, struct csv_error *err)
{
	ssize_t n;
	const char *p;
	size_t i;
	enum { START, UNQ, QUO, QUO_END } st;
	size_t qline = 0, qcol = 0;

	for (;;) {
		n = read_line(r);
		if (n < 0)
			return 0;
		p = r->line;
		if (r->first) {
			r->first = false;
			if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
				p += 3;
				n -= 3;
			}
		}
		if (n > 0)
			break;
	}
	r->rec_line = r->lineno;
	r->buf_len = 0;
	r->nfields = 0;
	if (!field_start(r, false))
		return err_at(err, r->lineno, 1, "out of memory");
	st = START;
	for (;;) {
		for (i = 0; i < (size_t)n; i++) {
			char c = p[i];

			if (c == '\0')
				return err_at(err, r->lineno, i + 1, "NUL byte in input (binary file?)");
			switch (st) {
			case START:
				if (c == '"') {
					r->quoted[r->nfields - 1] = true;
					st = QUO;
					qline = r->lineno;
					qcol = i + 1;
					break;
				}
				st = UNQ;
				/* fall through */
			case UNQ:
				if (c == r->delim) {
					if (!buf_put(r, '\0') || !field_start(r, false))
						return err_at(err, r->lineno, i + 1, "out of memory");
					st = START;
				} else if (!buf_put(r, c)) {
					return err_at(err, r->lineno, i + 1, "out of memory");
				}
				break;
			case QUO:
				if (c == '"') {
					st = QUO_END;
				} else if (!buf_put(r, c)) {
					return err_at(err, r->lineno, i + 1, "out of memory");
				}
				break;
			case QUO_END:
				if (c == '"') { /* "" inside quotes */
					if (!buf_put(r, '"'))
						return err_at(err, r->lineno, i + 1, "out of memory");
					st = QUO;
				} else if (c == r->delim) {
					if (!buf_put(r, '\0') || !field_start(r, false))
						return err_at(err, r->lineno, i + 1, "out of memory");
					st = START;
				} else {
					return err_at(err, r->lineno, i + 1,
						      "unexpected character after closing quote (field quoted at line %zu column %zu)",
						      qline, qcol);
				}
				break;
			}
		}
		if (st != QUO)
			break;
		/* newline inside a quoted field: the record continues on the next line */
		n = read_line(r);
		if (n < 0)
			return err_at(err, qline, qcol, "unterminated quoted field (opened at line %zu column %zu)", qline,
				      qcol);
		if (!buf_put(r, '\n'))
			return err_at(err, r->lineno, 1, "out of memory");
		p = r->line;
	}
	if (!buf_put(r, '\0'))
		return err_at(err, r->lineno, 1, "out of memory");
	if (r->fcap > 0) {
		char **f = realloc(r->fields, r->fcap * sizeof(*f));

		if (!f)
			return err_at(err, r->lineno, 1, "out of memory");
		r->fields = f;
	}
	for (i = 0; i < r->nfields; i++)
		r->fields[i] = r->buf + r->offs[i];
	return 1;
}

int csv_find_col(char *const *hdr, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hdr[i], name))
			return (int)i;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(hdr[i], name))
			return (int)i;
	return -1;
}

bool csv_is_missing(const char *s)
{
	static const char *const m[] = { "", "na", "n/a", "nan", "null", "none", "-" };

	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcasecmp(s, m[i]))
			return true;
	return false;
}
