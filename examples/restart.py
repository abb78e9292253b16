#!/usr/bin/python3
"""The echo server that restarts without refusing a client, in Python, on Usher.

    restart.py [PORT]

It listens on PORT (2024; 0 for one the system picks), reads one line from each client and
echoes it back. Every line it prints begins with its process id, as its successors print to the
same output.

On SIGHUP it starts its successor (this script, run again with `--take-over NAME`: the new
code after an upgrade) and hands its listening socket over at an abstract Unix socket NAME with
hand_over_async(); the successor take_over()s it, and once it accepts, this process shuts down
gracefully (10 s for its connections, then close_connections()) and exits. Clients that come
meanwhile wait in the kernel's backlog, which both processes share: none is refused. A
successor that exits first, or is not ready within 10 s, changes nothing: the service serves on.
SIGINT and SIGTERM shut down gracefully.

Run it with Debian's python3, which has PyGObject, with GI_TYPELIB_PATH and LD_LIBRARY_PATH set
for the library (see README.md), then `kill -HUP PID` while clients connect.
"""

import os
import signal
import sys

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402

NAME = "echo"  # the listening socket's name, for the successor to know it by
DRAIN = 10  # seconds for the connections to finish once the successor accepts
READY = 10  # seconds for the successor to take over


def say(line):
    # One write() for the whole line: the successors write to the same pipe, and print() may
    # write the line and its newline apart (unbuffered, as PYTHONUNBUFFERED makes it).
    sys.stdout.write(f"[{os.getpid()}] {line}\n")
    sys.stdout.flush()


class Echo:
    def __init__(self):
        self.loop = GLib.MainLoop()
        self.service = Usher.SocketService()
        self.tag = GObject.Object()
        self.service.connect("incoming", self.incoming)
        self.accepted = 0
        self.restarting = False
        self.restarts = 0
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGHUP, self.restart)
        for signum in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, self.drain)

    def listen(self, port):
        settings = Usher.SocketSettings(name=NAME)
        if port == 0:
            port = self.service.add_any_inet_port_full(self.tag, settings)
        else:
            self.service.add_inet_port_full(port, self.tag, settings)
        say(f"Listening on port {port}.")

    def take_over(self, name):
        added = self.service.take_over(abstract(name), None, self.tag_of)
        say(f"Took over {added} sockets.")

    def tag_of(self, name):
        return self.tag if name == NAME else None

    def incoming(self, service, connection, tag):
        self.accepted += 1
        if self.accepted == 1:
            say(f"First accept at {GLib.get_monotonic_time()} µs.")
        self.last_accept = GLib.get_monotonic_time()
        stream = Gio.DataInputStream.new(connection.get_input_stream())
        stream.read_line_async(GLib.PRIORITY_DEFAULT, None, self.line_read, connection)
        return False

    def line_read(self, stream, result, connection):
        try:
            line, _ = stream.read_line_finish_utf8(result)
        except GLib.Error:
            line = None
        if line is not None:
            say(f"Received: {line.rstrip()}")
            try:
                connection.get_output_stream().write_all(f"{line.rstrip()}\n".encode(), None)
            except GLib.Error:
                pass
        # Now rather than when Python collects it: the shutdown waits for it.
        connection.close(None)

    def restart(self):
        if self.restarting:
            return GLib.SOURCE_CONTINUE
        self.restarting = True
        self.restarts += 1
        name = f"usher-restart-py-{os.getpid()}-{self.restarts}"
        cancellable = Gio.Cancellable()
        # Listening once this returns: the successor may start at once.
        self.service.hand_over_async(abstract(name), cancellable, self.handed_over,
                                     cancellable)
        try:
            self.successor = Gio.Subprocess.new(
                [sys.executable, os.path.abspath(__file__), "--take-over", name],
                Gio.SubprocessFlags.NONE)
        except GLib.Error as error:
            say(f"Cannot start the successor: {error.message}")
            cancellable.cancel()
            return GLib.SOURCE_CONTINUE
        say(f"Handing over to process {self.successor.get_identifier()}.")
        # A successor that exits first, or takes too long, ends the handover: serving on.
        self.successor.wait_async(None, lambda *_: cancellable.cancel())

        def expire():
            self.deadline = None
            cancellable.cancel()
            return GLib.SOURCE_REMOVE

        self.deadline = GLib.timeout_add_seconds(READY, expire)
        return GLib.SOURCE_CONTINUE

    def handed_over(self, service, result, cancellable):
        if self.deadline is not None:
            GLib.source_remove(self.deadline)
        try:
            handed = service.hand_over_finish(result)
        except GLib.Error as error:
            say(f"Handover failed, serving on: {error.message}")
            self.successor.force_exit()
            self.restarting = False
            return
        say(f"Handed {handed} sockets over to process {self.successor.get_identifier()}.")
        self.drain()

    def drain(self):
        say(f"Draining {self.service.props.n_connections} connections.")
        self.service.shutdown_async(None, self.shut_down)
        self.closing = GLib.timeout_add_seconds(DRAIN, self.close_connections)
        return GLib.SOURCE_REMOVE

    def close_connections(self):
        say(f"Closing {self.service.props.n_connections} connections left.")
        self.service.close_connections()
        self.closing = None
        return GLib.SOURCE_REMOVE

    def shut_down(self, service, result):
        service.shutdown_finish(result)
        if self.closing is not None:
            GLib.source_remove(self.closing)
        say(f"Shut down: {self.accepted} clients, the last accepted at "
            f"{getattr(self, 'last_accept', 0)} µs.")
        self.loop.quit()


def abstract(name):
    return Gio.UnixSocketAddress.new_with_type(name.encode(), Gio.UnixSocketAddressType.ABSTRACT)


def main(args):
    echo = Echo()
    try:
        if args[:1] == ["--take-over"] and len(args) == 2:
            echo.take_over(args[1])
        else:
            port = int(args[0]) if args else 2024
            echo.listen(port)
    except (ValueError, IndexError):
        sys.exit("usage: restart.py [PORT]")
    except GLib.Error as error:
        say(error.message)
        sys.exit(1)
    echo.loop.run()


if __name__ == "__main__":
    main(sys.argv[1:])
