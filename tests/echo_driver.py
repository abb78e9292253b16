#!/usr/bin/python3
"""Drives an echo demo as a user with telnet would.

    echo_driver.py --pass-ports PROGRAM
    echo_driver.py PROGRAM PORT…

Waits until PROGRAM accepts on its ports, checks that each echoes a line and that its output
names the port (the `Source` tag), then sends "shutdown" and checks that the program exits
with status 0. With --pass-ports, two free ports are given to PROGRAM as arguments; otherwise
PROGRAM listens on the PORTs by itself (the Vala demos use 1024 and 1025, as GLib's docs do).
"""

import socket
import subprocess
import sys
import time

DEADLINE = 30.0


def connect(port, program):
    """Connects to port on loopback, retrying while the program starts up."""
    start = time.monotonic()
    delay = 0.01
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        except ConnectionRefusedError:
            if program.poll() is not None:
                sys.exit(f"the program exited with status {program.returncode} before listening")
            if time.monotonic() - start > DEADLINE:
                sys.exit(f"nothing listens on port {port}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def say(port, line, program):
    with connect(port, program) as client:
        client.sendall(line.encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = client.recv(1024)
            if not chunk:
                break
            reply += chunk
    return reply.decode()


def free_ports(count):
    """Ports free on loopback right now."""
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def main():
    args = sys.argv[1:]
    if args[0] == "--pass-ports":
        program_path = args[1]
        ports = free_ports(2)
        command = [program_path] + [str(port) for port in ports]
    else:
        program_path, *ports = args
        ports = [int(port) for port in ports]
        command = [program_path]
    program = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        for port in ports:
            line = f"hello on {port}"
            reply = say(port, line, program)
            assert reply == line + "\n", f"port {port} answered {reply!r}"
        assert say(ports[0], "shutdown", program) == "shutdown\n"
        output, _ = program.communicate(timeout=DEADLINE)
    finally:
        if program.poll() is None:
            program.kill()
    assert program.returncode == 0, f"exit status {program.returncode}"
    for port in ports:
        assert f"Accepted! (Source: {port})" in output, output
        assert f"Received: hello on {port}" in output, output
    assert "Received: shutdown" in output, output
    print(output, end="")


if __name__ == "__main__":
    main()
