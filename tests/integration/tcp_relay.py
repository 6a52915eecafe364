#!/usr/bin/env python3
"""A TCP relay for tests/integration/test_conn.sh: listen on HOST:PORT, copy every connection both ways to
TO_HOST:TO_PORT (the test's apiserver, in a network namespace, reaches the testbed's etcd on the host's
loopback through two of these). Prints "listening" once bound. Standard library only.

  tcp_relay.py HOST PORT TO_HOST TO_PORT
"""
import asyncio
import sys


async def pipe(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            w.close()
        except OSError:
            pass


async def handle(r, w, to_host, to_port):
    try:
        ur, uw = await asyncio.open_connection(to_host, to_port)
    except OSError:
        w.close()
        return
    await asyncio.gather(pipe(r, uw), pipe(ur, w))


async def main(host, port, to_host, to_port):
    srv = await asyncio.start_server(lambda r, w: handle(r, w, to_host, to_port), host, port)
    print("listening", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
