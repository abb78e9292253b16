#!/usr/bin/python3
"""Abusive clients, through PyGObject: the per-peer cap (max-connections-per-peer), the I/O
timeout of accepted sockets (timeout), TCP_NODELAY on accepted sockets, and n-connections
coming back to 0 when the clients leave."""

import socket
import time
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import DEADLINE, iterate_until, listen_loopback, read_to_end  # noqa: E402


def connect(port, source="127.0.0.1"):
    """A client from source; the kernel completes the connection without the server's loop."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(DEADLINE)
    client.bind((source, 0))
    client.connect(("127.0.0.1", port))
    return client


def peer_of(connection):
    return connection.get_remote_address().get_address().to_string()


def read_once(outcome):
    """An incoming handler that reads once, then closes the connection. It records in outcome
    the socket's timeout, when the read started and ended, and what it read or its error."""

    def incoming(service, connection, source_object):
        outcome["socket timeout"] = connection.get_socket().get_timeout()
        outcome["started"] = time.monotonic()

        def read(stream, result):
            outcome["ended"] = time.monotonic()
            try:
                outcome["read"] = stream.read_bytes_finish(result).get_data()
            except GLib.Error as error:
                outcome["error"] = error
            connection.close(None)

        connection.get_input_stream().read_bytes_async(4096, GLib.PRIORITY_DEFAULT, None, read)
        return False

    return incoming


class Abuse(unittest.TestCase):
    def service(self, **properties):
        service = Usher.SocketService(**properties)
        self.errors = []
        service.connect("accept-error", lambda service, error: self.errors.append(error))
        port = listen_loopback(service)
        self.addCleanup(service.close)
        return service, port

    def connect_clients(self, port, count):
        """count clients from 127.0.0.1, closed at the end of the test."""
        clients = [connect(port) for _ in range(count)]
        for client in clients:
            self.addCleanup(client.close)
        return clients

    def serve_a_silent_client(self, **properties):
        """A service that reads once from each client (read_once) and a client that has said
        nothing yet; returns them with the outcome of the read."""
        service, port = self.service(**properties)
        outcome = {}
        service.connect("incoming", read_once(outcome))
        client = connect(port)
        self.addCleanup(client.close)
        return service, client, outcome

    def test_max_connections_per_peer_refuses_a_third_client_from_the_same_address(self):
        service, port = self.service(max_connections_per_peer=2)
        self.assertEqual(service.props.max_connections_per_peer, 2)
        kept = []

        def incoming(service, connection, source_object):
            connection.get_output_stream().write_all(b"welcome\n", None)
            kept.append(connection)
            return False

        service.connect("incoming", incoming)
        clients = self.connect_clients(port, 2)
        iterate_until(lambda: len(kept) == 2)
        for client in clients:
            self.assertEqual(client.makefile("rb").readline(), b"welcome\n")

        third = connect(port)
        self.addCleanup(third.close)
        iterate_until(lambda: self.errors)
        self.assertIn("127.0.0.1", self.errors[0].message)
        self.assertEqual(self.errors[0].domain, GLib.quark_to_string(Gio.io_error_quark()))
        self.assertEqual(read_to_end(third), b"")  # accepted and closed at once, never served
        self.assertEqual(len(kept), 2)
        self.assertEqual(service.props.n_accept_errors, 1)

        # Another address is another peer: served while 127.0.0.1 is at its cap.
        other = connect(port, "127.0.0.2")
        self.addCleanup(other.close)
        iterate_until(lambda: len(kept) == 3)
        self.assertEqual(other.makefile("rb").readline(), b"welcome\n")
        self.assertEqual(peer_of(kept[2]), "127.0.0.2")
        self.assertEqual(len(self.errors), 1)
        self.assertEqual(service.props.n_connections, 3)

        # A closed connection frees its peer's slot.
        kept[0].close(None)
        iterate_until(lambda: service.props.n_connections == 2)
        again = connect(port)
        self.addCleanup(again.close)
        iterate_until(lambda: len(kept) == 4)
        self.assertEqual(again.makefile("rb").readline(), b"welcome\n")
        self.assertEqual(peer_of(kept[3]), "127.0.0.1")
        self.assertEqual(len(self.errors), 1)

    def test_timeout_fails_a_read_on_a_silent_client(self):
        service, client, outcome = self.serve_a_silent_client(timeout=1)
        self.assertEqual(service.props.timeout, 1)
        iterate_until(lambda: "ended" in outcome)
        self.assertNotIn("read", outcome)
        self.assertTrue(outcome["error"].matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT),
                        outcome["error"])
        self.assertEqual(outcome["socket timeout"], 1)
        elapsed = outcome["ended"] - outcome["started"]
        self.assertGreater(elapsed, 0.5)
        self.assertLess(elapsed, 5)
        self.assertEqual(read_to_end(client), b"")  # the handler closed it
        iterate_until(lambda: service.props.n_connections == 0)
        self.assertEqual(self.errors, [])

    def test_without_timeout_a_silent_client_is_kept(self):
        # The control of the test above: a client that speaks late is still read.
        service, client, outcome = self.serve_a_silent_client()
        self.assertEqual(service.props.timeout, 0)
        iterate_until(lambda: "socket timeout" in outcome)
        # Silent for longer than the timeout above would allow, without sleeping: a timer.
        spoken = []

        def speak():
            client.sendall(b"late\n")
            spoken.append(True)
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(1500, speak)
        iterate_until(lambda: "read" in outcome or "error" in outcome)
        self.assertTrue(spoken)
        self.assertEqual(outcome.get("read"), b"late\n", outcome.get("error"))
        self.assertEqual(outcome["socket timeout"], 0)

    def test_accepted_sockets_have_tcp_nodelay(self):
        service, port = self.service()
        options = []

        def incoming(service, connection, source_object):
            ok, value = connection.get_socket().get_option(socket.IPPROTO_TCP,
                                                           socket.TCP_NODELAY)
            options.append(value if ok else None)
            return False

        service.connect("incoming", incoming)
        self.connect_clients(port, 3)
        iterate_until(lambda: len(options) == 3)
        for value in options:
            self.assertIsNotNone(value)
            self.assertNotEqual(value, 0, options)

    def test_n_connections_returns_to_0_after_the_clients_leave(self):
        service, port = self.service()
        counts = []
        service.connect("notify::n-connections",
                        lambda service, pspec: counts.append(service.props.n_connections))
        served = []
        ended = []

        # An ordinary handler: reads until the client leaves, then closes its connection.
        def incoming(service, connection, source_object):
            served.append(True)

            def read(stream, result):
                if stream.read_bytes_finish(result).get_size() == 0:
                    connection.close(None)
                    ended.append(True)
                else:
                    stream.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, None, read)

            connection.get_input_stream().read_bytes_async(
                4096, GLib.PRIORITY_DEFAULT, None, read)
            return False

        service.connect("incoming", incoming)
        clients = [connect(port) for _ in range(5)]
        iterate_until(lambda: len(served) == 5)
        self.assertEqual(service.props.n_connections, 5)
        for client in clients:
            client.sendall(b"some bytes\n")
            client.close()
        iterate_until(lambda: service.props.n_connections == 0)
        self.assertEqual(len(ended), 5)
        self.assertEqual(counts[-1], 0)
        self.assertIn(5, counts)
        self.assertEqual(service.props.n_accepted, 5)
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
