#!/usr/bin/python3
"""The other end of a handover of listening sockets, for tests/handover.rs and
tests/handover_input.rs: a stand-in successor, or a predecessor that forges its message.

    handover_peer.py successor NAME [ready|exit|refuse]
    handover_peer.py predecessor NAME KIND

NAME is the abstract Unix socket name of the handover, or its path if it begins with "/". The
successor connects, receives the message and its descriptors, prints them, checks that each is a
listening socket, then answers "ready", exits without a word (as a successor that dies before it
is ready), or refuses. The predecessor listens, prints "listening", sends the message KIND says
to the first process that connects, and prints the answer it gets.
"""

import os
import socket
import sys


def address(name):
    return name if name.startswith("/") else "\0" + name


def successor(name, mode):
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    channel.connect(address(name))
    message, fds, _, _ = socket.recv_fds(channel, 65536, 100)
    listening = 0
    for fd in fds:
        probe = socket.socket(fileno=os.dup(fd))
        listening += probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        probe.detach()
    print(f"received {len(fds)} descriptors, {listening} listening: {message!r}", flush=True)
    try:
        if mode == "ready":
            channel.send(b"ready\n")
        elif mode == "refuse":
            channel.send(b"refused: not today\n")
    except BrokenPipeError:
        pass  # Nothing came: the predecessor refused this process.
    # Exits, with the descriptors: the predecessor must serve on unless it heard "ready".
    os._exit(0)


def predecessor(name, kind):
    rendezvous = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    rendezvous.bind(address(name))
    rendezvous.listen(1)
    print("listening", flush=True)
    channel, _ = rendezvous.accept()
    server = socket.create_server(("127.0.0.1", 0))
    print(f"port {server.getsockname()[1]}", flush=True)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a socket, not listening
    with open("/etc/hostname", "rb") as file:
        messages = {
            "honest": (b"usher-handover 1 1\n- web\n", [server.fileno()]),
            "spaced": (b"usher-handover 1 1\n- web admin\n", [server.fileno()]),
            "unnamed": (b"usher-handover 1 1\n- \n", [server.fileno()]),
            "file": (b"usher-handover 1 1\n- web\n", [file.fileno()]),
            "not-listening": (b"usher-handover 1 2\n- web\n- other\n",
                              [server.fileno(), unix.fileno()]),
            "too-many": (b"usher-handover 1 65\n" + b"- web\n" * 65, [server.fileno()] * 65),
            "truncated": (b"usher-handover 1 2\n- web\n- adm", [server.fileno()] * 2),
            "miscounted": (b"usher-handover 1 1\n- web\n", [server.fileno()] * 2),
            "garbage": (b"\x00\xff" * 100, [server.fileno()]),
            "too-long": (b"usher-handover 1 1\n- " + b"w" * 40000 + b"\n", [server.fileno()]),
            "bad-name": (b"usher-handover 1 1\n- web\tadmin\n", [server.fileno()]),
            "old-format": (b"usher-handover 1 1\nweb\n", [server.fileno()]),
        }
        message, fds = messages[kind]
        try:
            socket.send_fds(channel, [message], fds)
            answer = channel.recv(512)
        except (BrokenPipeError, ConnectionResetError):
            # Refused before a word.
            answer = b""
    print(f"answer: {answer!r}", flush=True)


if __name__ == "__main__":
    role, name, *rest = sys.argv[1:]
    if role == "successor":
        successor(name, rest[0] if rest else "ready")
    else:
        predecessor(name, rest[0])
