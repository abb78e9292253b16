#!/usr/bin/python3
"""Drives an echo demo as a user with a line-based client would.

    echo_driver.py [--signal INT|TERM] [--] COMMAND…

Runs COMMAND with two free ports as its last arguments, waits until it accepts on them, checks
that each echoes a line and that the output names the port (the `Source` tag), then ends it and
checks that it exits with status 0:

* by default, with the line "shutdown";
* with --signal, by a graceful shutdown on that signal: while a client is half-way through its
  line, the signal frees the ports at once, the client still gets its echo, and then the
  program ends.
"""

import argparse
import signal
import socket
import subprocess
import sys
import time

DEADLINE = 30.0
# Tries with new free ports when another process took one first.
ATTEMPTS = 5


class PortTaken(Exception):
    """The program could not listen: another process took a port between free_ports() and its
    bind (the other tests run meanwhile)."""


def connect(port, program):
    """Connects to port on loopback, retrying while the program starts up."""
    start = time.monotonic()
    delay = 0.01
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        except ConnectionRefusedError:
            if program.poll() is not None:
                output = program.stdout.read()
                if "already in use" in output:
                    raise PortTaken(output)
                sys.exit(f"the program exited with status {program.returncode} before listening:"
                         f"\n{output}")
            if time.monotonic() - start > DEADLINE:
                sys.exit(f"nothing listens on port {port}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def read_line(client):
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = client.recv(1024)
        if not chunk:
            break
        reply += chunk
    return reply.decode()


def say(port, line, program):
    with connect(port, program) as client:
        # As telnet sends it.
        client.sendall(line.encode() + b"\r\n")
        return read_line(client)


def free_ports(count):
    """Ports free right now on every address of both families, as the demos listen
    (g_socket_listener_add_inet_port() binds [::] dual-stack): a port free on 127.0.0.1 alone may
    be taken on another address."""
    sockets = [socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
               for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait_until_refused(port, program):
    """Waits until nothing listens on port any more."""
    start = time.monotonic()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()
        except ConnectionRefusedError:
            return
        except ConnectionResetError:
            pass  # queued as the listening socket closed: the next try is refused
        if program.poll() is not None:
            sys.exit(f"the program exited with status {program.returncode} too early")
        if time.monotonic() - start > DEADLINE:
            sys.exit(f"port {port} is still open after the signal")
        time.sleep(0.01)


def shut_down_by_signal(signum, ports, program):
    # A client that has sent half its line. Connections to one port are accepted in the order
    # they came, so once a second client on that port has had its echo, the first has been
    # accepted and is being served.
    waiting = connect(ports[0], program)
    waiting.sendall(b"half ")
    assert say(ports[0], "after", program) == "after\n"

    program.send_signal(signum)
    for port in ports:
        wait_until_refused(port, program)
    assert program.poll() is None, "the program did not wait for its client"

    waiting.sendall(b"a line\r\n")
    reply = read_line(waiting)
    waiting.close()
    assert reply == "half a line\n", f"the waiting client got {reply!r}"
    return ["Received: half a line", "Shut down."]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--signal", choices=["INT", "TERM"])
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    for attempt in range(1, ATTEMPTS + 1):
        ports = free_ports(2)
        command = args.command + [str(port) for port in ports]
        # Its errors too: a demo says on either stream why it cannot listen.
        program = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        try:
            first = f"hello on {ports[0]}"
            reply = say(ports[0], first, program)
            break
        except PortTaken as taken:
            # Only a port taken meanwhile is tried again, with others: any other failure to
            # listen fails the test.
            print(f"attempt {attempt}: a port was taken before the program listened: {taken}",
                  file=sys.stderr)
    else:
        sys.exit(f"a port was taken before the program listened, {ATTEMPTS} times")
    try:
        assert reply == first + "\n", f"port {ports[0]} answered {reply!r}"
        for port in ports[1:]:
            line = f"hello on {port}"
            reply = say(port, line, program)
            assert reply == line + "\n", f"port {port} answered {reply!r}"
        if args.signal:
            expected = shut_down_by_signal(getattr(signal, "SIG" + args.signal), ports, program)
        else:
            assert say(ports[0], "shutdown", program) == "shutdown\n"
            expected = ["Received: shutdown"]
        output, _ = program.communicate(timeout=DEADLINE)
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    print(output, end="")
    assert program.returncode == 0, f"exit status {program.returncode}"
    for port in ports:
        assert f"Accepted! (Source: {port})" in output, output
        assert f"Received: hello on {port}" in output, output
    for line in expected:
        assert line in output, output


if __name__ == "__main__":
    main()
