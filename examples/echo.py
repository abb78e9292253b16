#!/usr/bin/python3
"""The echo server from the documentation of GLib.SocketService, in Python, on Usher.

    echo.py [PORT…]

It listens on ports 1024 and 1025 (or the ones given), each tagged with a Source object that
carries its port, reads one line from each client, prints it and echoes it back. Try
`nc localhost 1024` (or the Python client in README.md); the line "shutdown" stops the service
and ends the program.

Ctrl-C (SIGINT) or `kill` (SIGTERM) shuts the service down gracefully with shutdown_async():
the ports are freed at once, the clients being served get their echo, then the program ends. A
second signal disconnects them.

Run it with Debian's python3, which has PyGObject: against a build directory with
`meson devenv -C build -w . /usr/bin/python3 examples/echo.py`, or with GI_TYPELIB_PATH
and LD_LIBRARY_PATH set for the installed library (see README.md).
"""

import signal
import sys

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402


class Source(GObject.Object):
    """The source_object of a listening socket: which port a client came in on."""

    port = GObject.Property(type=int)


def clients(n):
    return "1 client" if n == 1 else f"{n} clients"


class Echo:
    def __init__(self, ports):
        self.loop = GLib.MainLoop()
        self.service = Usher.SocketService()
        for port in ports:
            self.service.add_inet_port(port, Source(port=port))
        self.service.connect("incoming", self.incoming)
        self.shutting_down = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, self.shut_down_gracefully)

    def incoming(self, service, connection, source_object):
        print(f"Accepted! (Source: {source_object.port})")
        input_stream = Gio.DataInputStream.new(connection.get_input_stream())
        input_stream.read_line_async(GLib.PRIORITY_DEFAULT, None, self.line_read, connection)
        return False

    def line_read(self, input_stream, result, connection):
        try:
            line, _ = input_stream.read_line_finish_utf8(result)
        except GLib.Error as error:
            print(f"Error: {error.message}")
            line = None
        if line is not None:
            line = line.strip()
            print(f"Received: {line}")
            try:
                connection.get_output_stream().write_all(f"{line}\n".encode(), None)
            except GLib.Error as error:
                print(f"Error: {error.message}")
        # Close it now rather than when Python collects it: the shutdown waits for it.
        connection.close(None)
        if line == "shutdown":
            self.service.stop()
            self.loop.quit()

    def shut_down_gracefully(self):
        if self.shutting_down:
            print(f"Disconnecting {clients(self.service.props.n_connections)}.")
            self.service.close_connections()
            return GLib.SOURCE_CONTINUE
        self.shutting_down = True
        # Closes the listening sockets at once; calls back once every connection is closed.
        self.service.shutdown_async(None, self.shut_down)
        print(f"Shutting down: the ports are free, waiting for "
              f"{clients(self.service.props.n_connections)}.")
        return GLib.SOURCE_CONTINUE

    def shut_down(self, service, result):
        try:
            service.shutdown_finish(result)
        except GLib.Error as error:
            print(f"Cannot shut down: {error.message}", file=sys.stderr)
        print("Shut down.")
        self.loop.quit()

    def run(self):
        self.service.start()
        self.loop.run()


def main(args):
    try:
        ports = [int(arg) for arg in args] or [1024, 1025]
        if not all(0 < port < 65536 for port in ports):
            raise ValueError("a port is from 1 to 65535")
    except ValueError as error:
        sys.exit(f"usage: echo.py [PORT…]: {error}")
    try:
        echo = Echo(ports)
    except GLib.Error as error:
        sys.exit(f"Cannot listen: {error.message}")
    echo.run()


if __name__ == "__main__":
    main(sys.argv[1:])
