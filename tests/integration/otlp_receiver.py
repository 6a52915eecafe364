#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for tests, independent of kapimon's encoder.

Python 3 standard library only. Listens on loopback, accepts POST /v1/traces with
Content-Type application/x-protobuf, decodes the protobuf WIRE FORMAT itself (varints, LEN fields,
fixed32/fixed64) following the opentelemetry-proto field numbers below, and appends JSON lines to
--out:

  {"type":"request", "t": <monotonic s>, "status": 200|503|400, "spans": N, "bytes": B, "error": "..."}
  {"type":"span", "trace_id": hex, "span_id": hex, "parent_span_id": hex or "", "name", "kind",
   "start": ns, "end": ns, "flags", "status": {"code", "message"}, "attributes": {...},
   "resource": {...}, "scope": {"name", "version"}}

Strict: a truncated or malformed message, a wrong wire type for a known field, invalid UTF-8 in a
string, a duplicate attribute key, or a trace/span id of the wrong length or all zero gives
HTTP 400 and no span lines.

--fail N answers the first N POSTs with 503, or --fail-status S (with Retry-After when --retry-after
is given); the body of such a POST is still decoded, and its request line carries "body_spans" (the
spans in it); every request line carries "body_sha" (a digest of the body: a retry of the same batch
has the same digest);
--control accepts POST /control with a JSON object {"fail": N, "status": S, "retry_after": R or null}
that replaces those settings at run time (answered 204; a test switches the receiver's behaviour
without restarting it);
--partial N answers the first request carrying at least N spans with a partial success rejecting N;
--chunked sends every response body with chunked transfer encoding.
--port 0 picks a free port; --port-file receives it once the socket listens.
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# opentelemetry-proto field numbers (collector/trace/v1, trace/v1, resource/v1, common/v1)
EXPORT_REQ_RESOURCE_SPANS = 1
RS_RESOURCE, RS_SCOPE_SPANS, RS_SCHEMA_URL = 1, 2, 3
RES_ATTRIBUTES, RES_DROPPED = 1, 2
SS_SCOPE, SS_SPANS, SS_SCHEMA_URL = 1, 2, 3
SCOPE_NAME, SCOPE_VERSION, SCOPE_ATTRIBUTES, SCOPE_DROPPED = 1, 2, 3, 4
KV_KEY, KV_VALUE = 1, 2
AV_STRING, AV_BOOL, AV_INT, AV_DOUBLE, AV_ARRAY, AV_KVLIST, AV_BYTES = 1, 2, 3, 4, 5, 6, 7
SPAN_TRACE_ID, SPAN_SPAN_ID, SPAN_TRACE_STATE, SPAN_PARENT = 1, 2, 3, 4
SPAN_NAME, SPAN_KIND, SPAN_START, SPAN_END, SPAN_ATTRS = 5, 6, 7, 8, 9
SPAN_DROPPED_ATTRS, SPAN_EVENTS, SPAN_DROPPED_EVENTS, SPAN_LINKS = 10, 11, 12, 13
SPAN_DROPPED_LINKS, SPAN_STATUS, SPAN_FLAGS = 14, 15, 16
STATUS_MESSAGE, STATUS_CODE = 2, 3
# ExportTraceServiceResponse.partial_success = 1 {rejected_spans = 1, error_message = 2}

WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5


class Bad(Exception):
    pass


def varint(buf, i):
    v = shift = 0
    while True:
        if i >= len(buf):
            raise Bad("truncated varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise Bad("varint too long")
    if v >= 1 << 64:
        raise Bad("varint overflow")
    return v, i


def fields(buf):
    """Yield (field number, wire type, value): int for VARINT/I64/I32, bytes for LEN."""
    i = 0
    while i < len(buf):
        tag, i = varint(buf, i)
        num, wt = tag >> 3, tag & 7
        if num == 0:
            raise Bad("field number 0")
        if wt == WT_VARINT:
            v, i = varint(buf, i)
        elif wt == WT_I64:
            if i + 8 > len(buf):
                raise Bad("truncated fixed64")
            v = int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wt == WT_I32:
            if i + 4 > len(buf):
                raise Bad("truncated fixed32")
            v = int.from_bytes(buf[i:i + 4], "little")
            i += 4
        elif wt == WT_LEN:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise Bad("truncated length-delimited field")
            v = bytes(buf[i:i + n])
            i += n
        else:
            raise Bad("unsupported wire type %d" % wt)
        yield num, wt, v


def want(wt, expected, what):
    if wt != expected:
        raise Bad("%s: wire type %d, expected %d" % (what, wt, expected))


def text(b, what):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("%s: invalid UTF-8" % what)


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def any_value(buf):
    out = None
    for num, wt, v in fields(buf):
        if num == AV_STRING:
            want(wt, WT_LEN, "string_value")
            out = text(v, "string_value")
        elif num == AV_BOOL:
            want(wt, WT_VARINT, "bool_value")
            out = bool(v)
        elif num == AV_INT:
            want(wt, WT_VARINT, "int_value")
            out = signed64(v)
        elif num == AV_DOUBLE:
            want(wt, WT_I64, "double_value")
            out = struct.unpack("<d", v.to_bytes(8, "little"))[0]
        elif num == AV_ARRAY:
            want(wt, WT_LEN, "array_value")
            out = [any_value(x) for n, w, x in fields(v) if n == 1]
        elif num == AV_KVLIST:
            want(wt, WT_LEN, "kvlist_value")
            out = attributes([x for n, w, x in fields(v) if n == 1])
        elif num == AV_BYTES:
            want(wt, WT_LEN, "bytes_value")
            out = v.hex()
    return out


def attributes(kvs):
    out = {}
    for kv in kvs:
        key, val = None, None
        for num, wt, v in fields(kv):
            if num == KV_KEY:
                want(wt, WT_LEN, "KeyValue.key")
                key = text(v, "KeyValue.key")
            elif num == KV_VALUE:
                want(wt, WT_LEN, "KeyValue.value")
                val = any_value(v)
        if key is None:
            raise Bad("KeyValue without key")
        if key in out:
            raise Bad("duplicate attribute key %r" % key)
        out[key] = val
    return out


def span(buf):
    s = {"trace_id": "", "span_id": "", "parent_span_id": "", "name": "", "kind": 0, "start": 0, "end": 0,
         "flags": 0, "status": {"code": 0, "message": ""}}
    attrs = []
    for num, wt, v in fields(buf):
        if num == SPAN_TRACE_ID:
            want(wt, WT_LEN, "trace_id")
            if len(v) != 16 or not any(v):
                raise Bad("trace_id must be 16 bytes, not all zero")
            s["trace_id"] = v.hex()
        elif num == SPAN_SPAN_ID:
            want(wt, WT_LEN, "span_id")
            if len(v) != 8 or not any(v):
                raise Bad("span_id must be 8 bytes, not all zero")
            s["span_id"] = v.hex()
        elif num == SPAN_PARENT:
            want(wt, WT_LEN, "parent_span_id")
            if len(v) not in (0, 8):
                raise Bad("parent_span_id must be empty or 8 bytes")
            s["parent_span_id"] = v.hex()
        elif num == SPAN_NAME:
            want(wt, WT_LEN, "name")
            s["name"] = text(v, "name")
        elif num == SPAN_KIND:
            want(wt, WT_VARINT, "kind")
            s["kind"] = v
        elif num == SPAN_START:
            want(wt, WT_I64, "start_time_unix_nano")
            s["start"] = v
        elif num == SPAN_END:
            want(wt, WT_I64, "end_time_unix_nano")
            s["end"] = v
        elif num == SPAN_ATTRS:
            want(wt, WT_LEN, "attributes")
            attrs.append(v)
        elif num == SPAN_FLAGS:
            want(wt, WT_I32, "flags")
            s["flags"] = v
        elif num == SPAN_STATUS:
            want(wt, WT_LEN, "status")
            for n2, w2, v2 in fields(v):
                if n2 == STATUS_CODE:
                    want(w2, WT_VARINT, "status.code")
                    s["status"]["code"] = v2
                elif n2 == STATUS_MESSAGE:
                    want(w2, WT_LEN, "status.message")
                    s["status"]["message"] = text(v2, "status.message")
    if not s["trace_id"] or not s["span_id"]:
        raise Bad("span without trace_id or span_id")
    s["attributes"] = attributes(attrs)
    return s


def export_request(buf):
    spans = []
    for num, wt, rs in fields(buf):
        if num != EXPORT_REQ_RESOURCE_SPANS:
            continue
        want(wt, WT_LEN, "resource_spans")
        resource = {}
        scope_spans = []
        for n2, w2, v2 in fields(rs):
            if n2 == RS_RESOURCE:
                want(w2, WT_LEN, "resource")
                resource = attributes([v for n, w, v in fields(v2) if n == RES_ATTRIBUTES])
            elif n2 == RS_SCOPE_SPANS:
                want(w2, WT_LEN, "scope_spans")
                scope_spans.append(v2)
        for ss in scope_spans:
            scope = {"name": "", "version": ""}
            raw = []
            for n3, w3, v3 in fields(ss):
                if n3 == SS_SCOPE:
                    want(w3, WT_LEN, "scope")
                    for n4, w4, v4 in fields(v3):
                        if n4 == SCOPE_NAME:
                            scope["name"] = text(v4, "scope.name")
                        elif n4 == SCOPE_VERSION:
                            scope["version"] = text(v4, "scope.version")
                elif n3 == SS_SPANS:
                    want(w3, WT_LEN, "spans")
                    raw.append(v3)
            for r in raw:
                s = span(r)
                s["resource"] = resource
                s["scope"] = scope
                spans.append(s)
    return spans


def partial_success(rejected, message):
    def enc_varint(v):
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)
    msg = message.encode()
    inner = b"\x08" + enc_varint(rejected) + b"\x12" + enc_varint(len(msg)) + msg
    return b"\x0a" + enc_varint(len(inner)) + inner


class Receiver:
    def __init__(self, out, fail, retry_after, partial, chunked=False, fail_status=503, control=False):
        self.chunked = chunked
        self.fail_status = fail_status
        self.control = control
        self.out = open(out, "a", buffering=1)
        self.lock = threading.Lock()
        self.fail = fail
        self.retry_after = retry_after
        self.partial = partial

    def log(self, objs):
        with self.lock:
            for o in objs:
                self.out.write(json.dumps(o, sort_keys=True) + "\n")
            self.out.flush()


def handler_for(rx):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            if rx.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if rx.chunked:  # the body in two chunks, with an extension and a trailer
                half = len(body) // 2
                for part in (body[:half], body[half:]):
                    if part:
                        self.wfile.write(b"%x;x=1\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
            else:
                self.wfile.write(body)

        def do_POST(self):
            t = time.monotonic()
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            rec = {"type": "request", "t": t, "bytes": n, "path": self.path,
                   "content_type": self.headers.get("Content-Type", ""),
                   "body_sha": hashlib.sha256(body).hexdigest()[:16]}
            if rx.control and self.path == "/control":
                try:
                    c = json.loads(body)
                    with rx.lock:
                        rx.fail = int(c.get("fail", 0))
                        rx.fail_status = int(c.get("status", 503))
                        rx.retry_after = c.get("retry_after")
                except (ValueError, TypeError, AttributeError):
                    return self.reply(400)
                rec.update(status=204, spans=0, control=c)
                rx.log([rec])
                return self.reply(204)
            if self.path != "/v1/traces" or rec["content_type"] != "application/x-protobuf":
                rec.update(status=404 if self.path != "/v1/traces" else 415, spans=0)
                rx.log([rec])
                return self.reply(rec["status"])
            with rx.lock:
                failing = rx.fail > 0
                if failing:
                    rx.fail -= 1
                fstatus, retry_after = rx.fail_status, rx.retry_after
            if failing:
                try:
                    nspans = len(export_request(body))
                except Bad:
                    nspans = -1
                rec.update(status=fstatus, spans=0, body_spans=nspans)
                rx.log([rec])
                hdr = [("Retry-After", str(retry_after))] if retry_after is not None else []
                return self.reply(fstatus, headers=hdr)
            try:
                spans = export_request(body)
            except Bad as e:
                rec.update(status=400, spans=0, error=str(e))
                rx.log([rec])
                return self.reply(400)
            resp = b""
            with rx.lock:
                if rx.partial and len(spans) >= rx.partial:
                    resp = partial_success(rx.partial, "test receiver rejects %d spans" % rx.partial)
                    rec["rejected"] = rx.partial
                    rx.partial = 0
            rec.update(status=200, spans=len(spans))
            rx.log([dict(s, type="span") for s in spans] + [rec])
            self.reply(200, resp)
    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail", type=int, default=0, help="answer the first N POSTs with 503")
    ap.add_argument("--fail-status", type=int, default=503, help="status of the --fail answers (default 503)")
    ap.add_argument("--retry-after", type=int, help="Retry-After seconds on the --fail answers")
    ap.add_argument("--control", action="store_true", help="accept POST /control (JSON: fail, status, retry_after)")
    ap.add_argument("--partial", type=int, default=0, help="reject N spans of the first request with >= N")
    ap.add_argument("--chunked", action="store_true", help="answer with chunked transfer encoding")
    a = ap.parse_args()
    rx = Receiver(a.out, a.fail, a.retry_after, a.partial, a.chunked, a.fail_status, a.control)
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), handler_for(rx))
    srv.daemon_threads = True
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
