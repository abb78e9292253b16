"""A TLS client that asks for server names, for the certificate tests: Python's own `ssl`.

    sni_client.py PORT CA [--name NAME]... [--alpn P,Q] [--no-check] [--until SERIAL:COUNT]
                  [--interactive] [--split-records SIZE] [--pause-after BYTES]

Connects to 127.0.0.1:PORT trusting CA, once per --name (in turn; "-" asks for no name, and
then the name is not checked), sends a line, reads its echo and prints, per connection:
"<serial, lowercase hex> <subject CN> <echo>". --no-check: the certificate is verified against
CA but not against the name asked for.

--until SERIAL:COUNT: connections in turn with the first name, until COUNT of them were served
the certificate of serial SERIAL (at most 30 s).

--interactive: one connection with the first name; prints "<serial> <CN>", then sends each
line of standard input and prints its echo.

--split-records SIZE: the ClientHello is sent in records of at most SIZE bytes of handshake
data each (the TLS layer is driven through memory: the socket sees what this client chooses).
--pause-after BYTES: sends the first BYTES bytes of the ClientHello, prints "paused", and
sends the rest once a line arrives on standard input.

On a failed handshake or connection, prints "error: <reason>" and exits 1.
"""

import argparse
import socket
import ssl
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("ca")
parser.add_argument("--name", action="append", default=[])
parser.add_argument("--alpn")
parser.add_argument("--no-check", action="store_true")
parser.add_argument("--until")
parser.add_argument("--interactive", action="store_true")
parser.add_argument("--split-records", type=int)
parser.add_argument("--pause-after", type=int)
args = parser.parse_args()
names = args.name or ["-"]


def context_for(name):
    context = ssl.create_default_context(cafile=args.ca)
    if name == "-" or args.no_check:
        context.check_hostname = False
    if args.alpn:
        context.set_alpn_protocols(args.alpn.split(","))
    return context


def describe(certificate):
    subject = dict(pair[0] for pair in certificate["subject"])
    return f"{int(certificate['serialNumber'], 16):x} {subject.get('commonName', '-')}"


def recut(hello, size):
    """The records of `hello` (a whole ClientHello, in one record or more) cut into records of
    at most `size` bytes of handshake data."""
    data, at = b"", 0
    while at < len(hello):
        length = int.from_bytes(hello[at + 3:at + 5], "big")
        data += hello[at + 5:at + 5 + length]
        at += 5 + length
    records = b""
    for start in range(0, len(data), size):
        fragment = data[start:start + size]
        records += bytes([22, 3, 1]) + len(fragment).to_bytes(2, "big") + fragment
    return records


class MemoryTls:
    """A TLS client over a socket, driven through memory BIOs."""

    def __init__(self, raw, context, name):
        self.raw = raw
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing,
                                    server_hostname=None if name == "-" else name)
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = self.outgoing.read()
        if args.split_records:
            hello = recut(hello, args.split_records)
        if args.pause_after:
            raw.sendall(hello[:args.pause_after])
            print("paused", flush=True)
            sys.stdin.readline()
            hello = hello[args.pause_after:]
        raw.sendall(hello)
        self.pump(self.tls.do_handshake)

    def pump(self, operation):
        while True:
            try:
                result = operation()
                self.flush()
                return result
            except ssl.SSLWantReadError:
                self.flush()
                data = self.raw.recv(65536)
                if not data:
                    raise ConnectionError("closed in the handshake")
                self.incoming.write(data)

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def getpeercert(self):
        return self.tls.getpeercert()

    def sendall(self, data):
        self.pump(lambda: self.tls.write(data))

    def readline(self):
        line = b""
        while not line.endswith(b"\n"):
            chunk = self.pump(lambda: self.tls.read(4096))
            if not chunk:
                break
            line += chunk
        return line.decode()


def connect(name):
    raw = socket.create_connection(("127.0.0.1", args.port), 30)
    context = context_for(name)
    if args.split_records or args.pause_after:
        return raw, MemoryTls(raw, context, name)
    tls = context.wrap_socket(raw, server_hostname=None if name == "-" else name)
    return tls, tls


def readline(stream):
    if isinstance(stream, MemoryTls):
        return stream.readline()
    return stream.makefile("rb").readline().decode()


def once(name, line):
    raw, tls = connect(name)
    with raw:
        described = describe(tls.getpeercert())
        tls.sendall(line.encode() + b"\n")
        echo = readline(tls)
        if not echo:
            raise ConnectionError("closed without an echo")
        return described, echo.rstrip("\n")


try:
    if args.interactive:
        raw, tls = connect(names[0])
        with raw:
            print(describe(tls.getpeercert()), flush=True)
            reader = tls.makefile("rb") if not isinstance(tls, MemoryTls) else None
            for line in sys.stdin:
                tls.sendall(line.encode())
                echo = reader.readline().decode() if reader else tls.readline()
                print(echo.rstrip("\n"), flush=True)
    elif args.until:
        serial, count = args.until.split(":")
        seen, deadline = 0, time.monotonic() + 30
        while seen < int(count) and time.monotonic() < deadline:
            described, echo = once(names[0], "hello")
            print(f"{described} {echo}", flush=True)
            seen += described.split()[0] == serial
    else:
        for name in names:
            described, echo = once(name, f"hello {name}")
            print(f"{described} {echo}", flush=True)
except (OSError, ssl.SSLError, ConnectionError) as error:
    print(f"error: {error}", flush=True)
    sys.exit(1)
