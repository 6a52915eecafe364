#!/usr/bin/env python3
"""TLS connections to the apiserver for tests/integration/test_conn.sh (standard library only).

  conn_client.py burst   --src IP --url URL --ca CA --n N        open N connections one after the other:
                                                                  TLS handshake, close; prints "done N"
  conn_client.py hold    --src IP --url URL --ca CA --n N        open N connections and keep them: prints
                                                                  "ready N", closes all on a line on stdin,
                                                                  prints "closed"
  conn_client.py traffic --src IP --url URL --ca CA --n N --requests R --token-file F --path P
                                                                  N keep-alive HTTP/1.1 connections, R GETs
                                                                  of P on each (reading every response
                                                                  whole), then "done"; closes on a line on
                                                                  stdin, prints "closed"
Every connection is bound to source address --src, so the test knows which client kapimon must report.
The server certificate is verified against --ca; its name is not (the test's own listener address is not
in the testbed certificate).
"""
import argparse
import socket
import ssl
import sys
import urllib.parse


def connect(a, ctx, host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(60)
    s.bind((a.src, 0))
    s.connect((host, port))
    t = ctx.wrap_socket(s, server_hostname=host)
    t.do_handshake()
    return t


def read_response(t):
    """One HTTP/1.1 response (Content-Length or chunked); returns the status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = t.recv(65536)
        if not d:
            raise EOFError("connection closed in headers")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdr = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if "content-length" in hdr:
        n = int(hdr["content-length"])
        while len(rest) < n:
            d = t.recv(65536)
            if not d:
                raise EOFError("connection closed in body")
            rest += d
        return status
    if hdr.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            d = t.recv(65536)
            if not d:
                raise EOFError("connection closed in chunked body")
            rest += d
    return status


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["burst", "hold", "traffic"])
    p.add_argument("--src", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--requests", type=int, default=1)
    p.add_argument("--token-file")
    p.add_argument("--path", default="/healthz")
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    host, port = u.hostname, u.port or 443
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["http/1.1"])

    if a.mode == "burst":
        for _ in range(a.n):
            t = connect(a, ctx, host, port)
            t.close()
        print("done", a.n, flush=True)
        return 0

    conns = [connect(a, ctx, host, port) for _ in range(a.n)]
    if a.mode == "traffic":
        token = open(a.token_file).read().strip()
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kapimon-test-conn\r\nAuthorization: Bearer %s\r\n\r\n"
               % (a.path, host, token)).encode()
        bad = 0
        for _ in range(a.requests):
            for t in conns:
                t.sendall(req)
                bad += read_response(t) != 200
        print("done", a.n * a.requests, "non-200:", bad, flush=True)
    else:
        print("ready", a.n, flush=True)
    sys.stdin.readline()
    for t in conns:
        t.close()
    print("closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
