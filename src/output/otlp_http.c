// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/otlp_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "output/otlp_policy.h"

#define TRACES_PATH "/v1/traces"

int otlp_url_parse(const char *url, struct otlp_url *u, char *err, size_t errcap)
{
	const char *p, *hend, *path;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (!strncasecmp(url, "https://", 8)) {
		snprintf(err, errcap, "https is not supported: send to an OpenTelemetry Collector on loopback "
			 "(http://127.0.0.1:4318) and let it do TLS");
		return -1;
	}
	if (strncasecmp(url, "http://", 7)) {
		snprintf(err, errcap, "the OTLP URL must start with http:// (got \"%.64s\")", url);
		return -1;
	}
	p = url + 7;
	path = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(path - p))) {
		snprintf(err, errcap, "user info in the OTLP URL is not supported");
		return -1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(path - p));
		if (!hend) {
			snprintf(err, errcap, "unterminated IPv6 address in the OTLP URL");
			return -1;
		}
		hl = (size_t)(hend - p - 1);
		memcpy(u->host, p + 1, hl < sizeof(u->host) ? hl : 0);
		hend++;
	} else {
		hend = p + strcspn(p, ":/?#");
		hl = (size_t)(hend - p);
		memcpy(u->host, p, hl < sizeof(u->host) ? hl : 0);
	}
	if (!hl || hl >= sizeof(u->host)) {
		snprintf(err, errcap, "the OTLP URL has %s host", hl ? "an over-long" : "no");
		return -1;
	}
	if (*hend == ':') {
		size_t pl = (size_t)(path - hend - 1);
		long port = 0;

		for (size_t i = 0; i < pl; i++) {
			if (hend[1 + i] < '0' || hend[1 + i] > '9' || port > 65535) {
				port = -1;
				break;
			}
			port = port * 10 + (hend[1 + i] - '0');
		}
		if (!pl || port < 1 || port > 65535) {
			snprintf(err, errcap, "bad port in the OTLP URL");
			return -1;
		}
		snprintf(u->port, sizeof(u->port), "%ld", port);
	} else if (hend != path) {
		snprintf(err, errcap, "unexpected characters after the host in the OTLP URL");
		return -1;
	} else {
		strcpy(u->port, "80");
	}
	if (*path == '?' || *path == '#') {
		snprintf(err, errcap, "the OTLP URL must not carry a query or fragment");
		return -1;
	}
	{
		size_t pl = strcspn(path, "?#");
		size_t tl = strlen(TRACES_PATH);

		if (path[pl]) {
			snprintf(err, errcap, "the OTLP URL must not carry a query or fragment");
			return -1;
		}
		while (pl && path[pl - 1] == '/')
			pl--;
		if (pl + tl + 1 > sizeof(u->path)) {
			snprintf(err, errcap, "the OTLP URL path is too long");
			return -1;
		}
		for (size_t i = 0; i < pl; i++) {
			if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f) {
				snprintf(err, errcap, "the OTLP URL path has a space or control byte");
				return -1;
			}
		}
		if (pl >= tl && !memcmp(path + pl - tl, TRACES_PATH, tl))
			snprintf(u->path, sizeof(u->path), "%.*s", (int)pl, path);
		else
			snprintf(u->path, sizeof(u->path), "%.*s%s", (int)pl, path, TRACES_PATH);
	}
	snprintf(u->hostport, sizeof(u->hostport), strchr(u->host, ':') ? "[%s]:%s" : "%s:%s", u->host, u->port);
	return 0;
}

size_t otlp_http_request_head(const struct otlp_url *u, size_t body_len, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "POST %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "User-Agent: kapimon-otlp\r\n"
			 "Content-Type: application/x-protobuf\r\n"
			 "Content-Length: %zu\r\n"
			 "\r\n",
			 u->path, u->hostport, body_len);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool token_in(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i + tl <= n; i++)
		if (!strncasecmp(v + i, tok, tl))
			return true;
	return false;
}

int otlp_http_parse_head(const char *buf, size_t len, uint64_t retry_after_max_ms, struct otlp_http_resp *r)
{
	const char *end = NULL, *line, *eol;
	bool http10, keep_alive = false;
	size_t hl;

	for (size_t i = 0; i + 3 < len; i++) {
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i + 4;
			break;
		}
	}
	if (!end)
		return len > 65536 ? -1 : 0;
	hl = (size_t)(end - buf);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->retry_after_ms = -1;
	if (hl < 16 || strncmp(buf, "HTTP/1.", 7) || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return -1;
	http10 = buf[7] == '0';
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	line = memchr(buf, '\n', hl) + 1;
	for (; line < end - 2; line = eol + 1) {
		const char *colon, *v, *ve;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return -1;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			return -1;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define HDR_IS(name) ((size_t)(colon - line) == strlen(name) && !strncasecmp(line, name, strlen(name)))
		if (HDR_IS("Content-Length")) {
			int64_t cl = 0;

			if (v == ve)
				return -1;
			for (const char *c = v; c < ve; c++) {
				if (*c < '0' || *c > '9' || cl > (INT64_MAX - 9) / 10)
					return -1;
				cl = cl * 10 + (*c - '0');
			}
			r->content_length = cl;
		} else if (HDR_IS("Transfer-Encoding")) {
			r->chunked = token_in(v, (size_t)(ve - v), "chunked");
		} else if (HDR_IS("Connection")) {
			if (token_in(v, (size_t)(ve - v), "close"))
				r->close = true;
			if (token_in(v, (size_t)(ve - v), "keep-alive"))
				keep_alive = true;
		} else if (HDR_IS("Retry-After")) {
			uint64_t ms;

			if (!otlp_retry_after_ms(v, (size_t)(ve - v), retry_after_max_ms, &ms))
				r->retry_after_ms = (int64_t)ms;
		}
#undef HDR_IS
	}
	if (http10 && !keep_alive)
		r->close = true;
	return (int)hl;
}

/* One pass over the chunked body; payload bytes are moved to the front only when move is set (the
 * first pass only checks that the body is complete, so an incomplete input is left as it was). */
static int dechunk_pass(uint8_t *buf, size_t len, bool move, size_t *body_len, size_t *consumed)
{
	size_t in = 0, out = 0;

	for (;;) {
		uint64_t sz = 0;
		size_t digits = 0;
		uint8_t *nl;

		while (in < len) {
			uint8_t c = buf[in];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			if (d < 0)
				break;
			if (++digits > 8)
				return -1;
			sz = sz * 16 + (uint64_t)d;
			in++;
		}
		nl = memchr(buf + in, '\n', len - in); /* skip chunk extensions */
		if (!nl)
			return 0;
		if (!digits)
			return -1;
		in = (size_t)(nl - buf) + 1;
		if (sz == 0) {
			/* trailers, then an empty line */
			for (;;) {
				nl = memchr(buf + in, '\n', len - in);
				if (!nl)
					return 0;
				if (nl == buf + in || (nl == buf + in + 1 && buf[in] == '\r')) {
					*body_len = out;
					*consumed = (size_t)(nl - buf) + 1;
					return 1;
				}
				in = (size_t)(nl - buf) + 1;
			}
		}
		if (sz + 2 > len - in)
			return 0;
		if (move)
			memmove(buf + out, buf + in, sz);
		out += sz;
		in += sz;
		if (buf[in] == '\r')
			in++;
		if (in >= len)
			return 0;
		if (buf[in] != '\n')
			return -1;
		in++;
	}
}

int otlp_http_dechunk(uint8_t *buf, size_t len, size_t *body_len, size_t *consumed)
{
	int rc = dechunk_pass(buf, len, false, body_len, consumed);

	return rc == 1 ? dechunk_pass(buf, len, true, body_len, consumed) : rc;
}
