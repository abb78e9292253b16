"""A TLS client not written with Usher, for its tests: Python's own `ssl` module.

    tls_client.py PORT CA [--version 1.2|1.3] [--alpn P,Q] [--cert CERT KEY] [--line LINE]
                  [--source ADDRESS] [--hold] [--timed]

Connects to 127.0.0.1:PORT (from ADDRESS, if given) trusting CA, sends LINE (default "hello") and prints, one per line:
the echo, the negotiated TLS version and the ALPN protocol ("-" if none). With --hold, it then
keeps the connection open until its standard input ends. With --timed, a fourth line gives the
seconds from the connection to the echo (Python's own start left out). On a failed handshake
or connection, prints "error: <reason>" and exits 1.
"""

import argparse
import socket
import ssl
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("ca")
parser.add_argument("--version", choices=["1.2", "1.3"])
parser.add_argument("--alpn")
parser.add_argument("--cert", nargs=2)
parser.add_argument("--line", default="hello")
parser.add_argument("--source")
parser.add_argument("--hold", action="store_true")
parser.add_argument("--timed", action="store_true")
args = parser.parse_args()

context = ssl.create_default_context(cafile=args.ca)
if args.version:
    version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[args.version]
    context.minimum_version = context.maximum_version = version
if args.alpn:
    context.set_alpn_protocols(args.alpn.split(","))
if args.cert:
    context.load_cert_chain(*args.cert)

try:
    start = time.monotonic()
    source = (args.source, 0) if args.source else None
    with socket.create_connection(("127.0.0.1", args.port), 30, source) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(args.line.encode() + b"\n")
            echo = tls.makefile("rb").readline().decode()
            if not echo:
                # TLS 1.3: the server's verdict on the client certificate comes after the
                # client's handshake, as an alert or the end of the stream.
                raise ConnectionError("closed without an echo")
            print(echo.rstrip("\n"))
            print(tls.version())
            print(tls.selected_alpn_protocol() or "-", flush=True)
            if args.timed:
                print(f"{time.monotonic() - start:.6f}", flush=True)
            if args.hold:
                sys.stdin.read()
except (OSError, ssl.SSLError, ConnectionError) as error:
    print(f"error: {error}")
    sys.exit(1)
