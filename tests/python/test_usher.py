#!/usr/bin/python3
"""Usher through PyGObject: GLib's metadata, Python subclasses and handlers, threads."""

import socket
import threading
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402

from common import DEADLINE, listen_loopback  # noqa: E402


def run_client(port, line=None):
    """Runs a client on a thread and the default main loop until it is done; returns its line."""
    loop = GLib.MainLoop()
    answer = {}

    def client():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                if line is not None:
                    conn.sendall(line.encode() + b"\n")
                answer["line"] = conn.makefile().readline()
        finally:
            GLib.idle_add(loop.quit)

    thread = threading.Thread(target=client)
    thread.start()
    timeout = GLib.timeout_add_seconds(DEADLINE, loop.quit)
    loop.run()
    GLib.source_remove(timeout)
    thread.join()
    return answer.get("line")


def write_line(connection, text):
    connection.get_output_stream().write_all(text.encode() + b"\n", None)


class Greeter(Usher.SocketService):
    """Greets clients from its class handler, GLib's second way to write a service."""

    def __init__(self):
        super().__init__()
        self.greeted = 0

    def do_incoming(self, connection, source_object):
        write_line(connection, "hello from Python" if source_object is None else "tagged")
        self.greeted += 1
        return False


class Metadata(unittest.TestCase):
    """Usher's signals and properties are GLib's, as GObject introspection sees them."""

    def assert_same_signal(self, name, ours, glibs):
        our_query = GObject.signal_query(name, ours)
        glib_query = GObject.signal_query(name, glibs)
        self.assertEqual(our_query.signal_flags, glib_query.signal_flags)
        self.assertEqual(our_query.return_type, glib_query.return_type)
        self.assertEqual(list(our_query.param_types), list(glib_query.param_types))

    def assert_same_property(self, name, ours, glibs):
        static_strings = (GObject.ParamFlags.STATIC_NAME | GObject.ParamFlags.STATIC_NICK
                          | GObject.ParamFlags.STATIC_BLURB)
        our_spec = ours.find_property(name)
        glib_spec = glibs.find_property(name)
        self.assertEqual(our_spec.flags & ~static_strings, glib_spec.flags & ~static_strings)
        self.assertEqual(our_spec.default_value, glib_spec.default_value)
        self.assertEqual(our_spec.value_type, glib_spec.value_type)

    def test_incoming(self):
        self.assert_same_signal("incoming", Usher.SocketService, Gio.SocketService)
        self.assertEqual(GObject.signal_query("incoming", Usher.SocketService).signal_flags,
                         GObject.SignalFlags.RUN_LAST)

    def test_run(self):
        self.assert_same_signal("run", Usher.ThreadedSocketService, Gio.ThreadedSocketService)

    def test_active(self):
        self.assert_same_property("active", Usher.SocketService, Gio.SocketService)
        self.assertTrue(Usher.SocketService().props.active)
        self.assertFalse(Usher.SocketService(active=False).is_active())

    def test_max_threads(self):
        self.assert_same_property("max-threads", Usher.ThreadedSocketService,
                                  Gio.ThreadedSocketService)


class Serving(unittest.TestCase):
    def test_python_subclass_do_incoming_runs(self):
        greeter = Greeter()
        tag = GObject.Object()
        self.assertEqual(run_client(listen_loopback(greeter)), "hello from Python\n")
        self.assertEqual(run_client(listen_loopback(greeter, tag)), "tagged\n")
        self.assertEqual(greeter.greeted, 2)
        greeter.stop()

    def test_a_handler_returning_true_stops_do_incoming(self):
        greeter = Greeter()
        calls = []

        def claim(service, connection, source_object):
            calls.append("handler")
            write_line(connection, "claimed")
            return True

        greeter.connect("incoming", claim)
        self.assertEqual(run_client(listen_loopback(greeter)), "claimed\n")
        self.assertEqual(calls, ["handler"])
        self.assertEqual(greeter.greeted, 0)
        greeter.stop()

    def test_threaded_run_handler_blocks_in_a_worker(self):
        service = Usher.ThreadedSocketService.new(2)
        main_thread = threading.get_ident()
        threads = []

        def run(service, connection, source_object):
            threads.append(threading.get_ident())
            line = Gio.DataInputStream.new(connection.get_input_stream()).read_line_utf8(None)[0]
            write_line(connection, line.upper())
            return False

        service.connect("run", run)
        port = listen_loopback(service)
        self.assertEqual(run_client(port, "quiet"), "QUIET\n")
        self.assertEqual(len(threads), 1)
        self.assertNotEqual(threads[0], main_thread)
        # Wait for the handler to return in its thread: Python must not exit before.
        loop = GLib.MainLoop()
        service.shutdown_async(None, lambda service, result: (service.shutdown_finish(result),
                                                               loop.quit()))
        loop.run()


if __name__ == "__main__":
    unittest.main(verbosity=2)
