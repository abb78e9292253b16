"""The TLS clients of the benchmark: Python's `ssl` module (OpenSSL) on one asyncio loop.

    tls_client.py rate PORT CA CONCURRENCY SECONDS
        CONCURRENCY clients at a time connect, complete a TLS handshake, have a line echoed and
        close, over and over for SECONDS; prints "<echoes per second> <failures>".
    tls_client.py burst PORT CA CLIENTS
        CLIENTS clients do it once, all at once; prints "<seconds until the last echo> <failures>".

Not gio's clients: glib-networking runs every handshake, blocking or not, on GLib's shared pool of
threads (10 at first, growing slowly), where a burst of client handshakes waits for server
handshakes that wait, in the server's own pool, for client handshakes still queued: the burst
would measure two pools' deadlock, for seconds, rather than the servers. asyncio sets TCP_NODELAY,
as TLS clients do. Failures are printed on standard error, the first few only.
"""

import asyncio
import ssl
import sys
import time

LINE = b"hello, server\n"
TIMEOUT = 60


class Failures:
    count = 0

    @classmethod
    def add(cls, error):
        cls.count += 1
        if cls.count <= 3:
            print(f"TLS client: {error!r}", file=sys.stderr)


async def echo(port, context):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    try:
        writer.write(LINE)
        line = await reader.readline()
        if line != LINE:
            raise RuntimeError(f"a wrong echo: {line!r}")
    finally:
        # The server closes after its echo; no need to wait for the TLS shutdown.
        writer.close()


async def checked(port, context):
    try:
        await asyncio.wait_for(echo(port, context), TIMEOUT)
        return True
    except Exception as error:  # noqa: BLE001 - every failure counts the same
        Failures.add(error)
        return False


async def rate(port, context, concurrency, seconds):
    echoes = 0
    start = time.monotonic()
    end = start + seconds

    async def client():
        nonlocal echoes
        while time.monotonic() < end:
            if await checked(port, context) and time.monotonic() <= end:
                echoes += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    print(echoes / seconds, Failures.count)


async def burst(port, context, clients):
    start = time.monotonic()
    await asyncio.gather(*(checked(port, context) for _ in range(clients)))
    print(time.monotonic() - start, Failures.count)


def main():
    mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    context = ssl.create_default_context(cafile=ca)
    if mode == "rate":
        asyncio.run(rate(port, context, int(sys.argv[4]), float(sys.argv[5])))
    elif mode == "burst":
        asyncio.run(burst(port, context, int(sys.argv[4])))
    else:
        sys.exit(f"unknown mode {mode}")


main()
