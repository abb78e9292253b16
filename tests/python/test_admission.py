#!/usr/bin/python3
"""Admission control through PyGObject, on loopback where each 127.0.0.x is a peer of its own:
Usher.Refusal's values and nicks, the new settings and service properties, a deny list and an
allow list with the refused signal's arguments (a Gio.InetAddress, an Usher.Refusal, a
GLib.Error) and get_n_refused(), a per-peer rate refusing one peer while another is served,
try_set_allowed_peers() and try_set_denied_peers() raising GLib.Error, and a fake memory
monitor written in Python (GObject.Object, Gio.Initable, Gio.MemoryMonitor) whose MEDIUM warning
pauses accepting until a LOW one, overloaded notified."""

import socket
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402

from common import (DEADLINE, add_loopback_address, iterate_until,  # noqa: E402
                    listen_loopback, run_in_thread)

REASONS = ["peer-rate", "rate", "handshakes-per-peer", "handshake-rate", "denied", "peer-cap",
           "credentials", "proxy-header", "proxy-timeout", "tls", "tls-timeout",
           "max-connections", "overload"]


# GMemoryMonitor requires GInitable: PyGObject adds the interfaces in the order given, the
# prerequisite first.
class FakeMonitor(GObject.Object, Gio.Initable, Gio.MemoryMonitor):
    """A memory monitor whose warnings the test emits."""

    def do_init(self, cancellable):
        return True

    def warn(self, level):
        self.emit("low-memory-warning", level)


def connect_from(source, port):
    """A client (a Python socket) bound to source, connected to 127.0.0.1:port."""
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE,
                                    source_address=(source, 0))


def received(client):
    """What a client reads first: b"" if the service closed the connection."""
    try:
        return client.recv(64)
    except ConnectionResetError:
        return b""


def drain():
    """Dispatches what is ready now, without blocking."""
    context = GLib.MainContext.default()
    while context.pending():
        context.iteration(False)


class Settings(unittest.TestCase):
    def test_refusal_is_an_enumeration(self):
        self.assertTrue(GObject.type_is_a(Usher.Refusal.__gtype__, GObject.TYPE_ENUM))
        self.assertEqual(Usher.Refusal.__gtype__.name, "UsherRefusal")
        values = sorted(Usher.Refusal.__enum_values__.items())
        self.assertEqual([value for value, _ in values], list(range(len(REASONS))))
        self.assertEqual([reason.value_nick for _, reason in values], REASONS)
        self.assertEqual(Usher.Refusal.DENIED, 4)
        self.assertEqual(Usher.Refusal(12), Usher.Refusal.OVERLOAD)
        self.assertEqual(Usher.Refusal.PEER_RATE.value_name, "USHER_REFUSAL_PEER_RATE")
        service = Usher.SocketService()
        self.assertEqual([service.get_n_refused(reason) for _, reason in values],
                         [0] * len(REASONS))

    def test_the_new_settings_and_properties(self):
        settings = Usher.SocketSettings(peer_rate=5, peer_rate_burst=10, rate=200,
                                        tls_handshakes_per_peer=4, tls_handshake_rate=50)
        self.assertEqual((settings.get_peer_rate(), settings.props.peer_rate_burst,
                          settings.get_rate(), settings.get_rate_burst(),
                          settings.props.tls_handshakes_per_peer,
                          settings.get_tls_handshake_rate()), (5, 10, 200, 0, 4, 50))
        self.assertEqual(settings.is_set("rate-burst"), False)
        settings.set_rate_burst(400)
        self.assertEqual(settings.props.rate_burst, 400)

        service = Usher.SocketService()
        self.assertIsNone(service.get_memory_monitor())
        self.assertIsNone(service.props.memory_monitor)
        self.assertEqual(service.get_descriptor_margin(), 32)
        self.assertFalse(service.props.overloaded)
        notified = []
        service.connect("notify::descriptor-margin",
                        lambda service, pspec: notified.append(service.props.descriptor_margin))
        service.props.descriptor_margin = 0
        service.set_descriptor_margin(0)
        service.set_descriptor_margin(64)
        self.assertEqual(notified, [0, 64])
        with self.assertRaises(TypeError):
            service.props.overloaded = True
        monitor = FakeMonitor()
        service.props.memory_monitor = monitor
        self.assertIs(service.get_memory_monitor(), monitor)
        service.set_memory_monitor(None)
        self.assertIsNone(service.props.memory_monitor)

    def test_peer_lists_raise_glib_error(self):
        settings = Usher.SocketSettings()
        for name in ("allowed_peers", "denied_peers"):
            with self.subTest(name=name):
                try_set = getattr(settings, "try_set_" + name)
                self.assertTrue(try_set(["127.0.0.2", "10.0.0.0/8", "fd00::/8"]))
                self.assertEqual(getattr(settings, "get_" + name)(),
                                 ["127.0.0.2", "10.0.0.0/8", "fd00::/8"])
                with self.assertRaises(GLib.Error) as raised:
                    try_set(["192.0.2.1", "not an address"])
                self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                         Gio.IOErrorEnum.INVALID_ARGUMENT))
                self.assertIn("not an address", raised.exception.message)
                self.assertEqual(settings.get_property(name.replace("_", "-")),
                                 ["127.0.0.2", "10.0.0.0/8", "fd00::/8"])
                try_set([])
                self.assertEqual(getattr(settings, "get_" + name)(), [])
                self.assertTrue(settings.is_set(name.replace("_", "-")))


class Admission(unittest.TestCase):
    """A service that keeps the connections it hands out, its refusals and its accept
    errors."""

    def setUp(self):
        self.service = Usher.SocketService()
        self.held = []
        self.refusals = []
        self.errors = []
        self.service.connect("incoming", lambda service, connection, source:
                             self.held.append(connection) or False)
        self.service.connect("refused", self.refused)
        self.service.connect("accept-error", lambda service, error: self.errors.append(error))
        self.addCleanup(self.service.close)

    def refused(self, service, peer, reason, error):
        self.assertIs(service, self.service)
        self.assertIsInstance(peer, Gio.InetAddress)
        self.assertIsInstance(reason, Usher.Refusal)
        self.assertIsInstance(error, GLib.Error)
        self.refusals.append((peer.to_string(), reason, error))

    def peers_held(self):
        return [connection.get_remote_address().get_address().to_string()
                for connection in self.held]

    def test_a_deny_list_and_an_allow_list(self):
        deny = Usher.SocketSettings()
        deny.try_set_denied_peers(["127.0.0.2", "192.0.2.0/24"])
        allow = Usher.SocketSettings(allowed_peers=["127.0.0.3/32"])
        deny_port = add_loopback_address(self.service, deny)
        allow_port = add_loopback_address(self.service, allow)

        def visit(source, port):
            with connect_from(source, port) as client:
                return received(client)

        self.assertEqual(run_in_thread(lambda: visit("127.0.0.2", deny_port)), b"")
        iterate_until(lambda: self.refusals)
        (peer, reason, error), = self.refusals
        self.assertEqual((peer, reason), ("127.0.0.2", Usher.Refusal.DENIED))
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED))
        self.assertIn("127.0.0.2", error.message)
        self.assertEqual([each.message for each in self.errors], [error.message])
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.DENIED), 1)

        served = connect_from("127.0.0.3", deny_port)
        self.addCleanup(served.close)
        iterate_until(lambda: self.held)
        self.assertEqual(self.peers_held(), ["127.0.0.3"])

        self.assertEqual(run_in_thread(lambda: visit("127.0.0.2", allow_port)), b"")
        iterate_until(lambda: len(self.refusals) == 2)
        self.assertEqual(self.refusals[1][:2], ("127.0.0.2", Usher.Refusal.DENIED))
        allowed = connect_from("127.0.0.3", allow_port)
        self.addCleanup(allowed.close)
        iterate_until(lambda: len(self.held) == 2)
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.DENIED), 2)
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.PEER_RATE), 0)

    def test_a_peer_beyond_its_rate_is_refused_another_served(self):
        settings = Usher.SocketSettings(peer_rate=1, peer_rate_burst=1)
        port = add_loopback_address(self.service, settings)
        flood = [connect_from("127.0.0.2", port) for _ in range(6)]
        for client in flood:
            self.addCleanup(client.close)
        iterate_until(lambda: len(self.held) + len(self.refusals) == len(flood))
        # A token a second, one at once: more than two served would take seconds.
        self.assertGreaterEqual(len(self.held), 1)
        self.assertGreaterEqual(len(self.refusals), len(flood) - 2)
        for peer, reason, error in self.refusals:
            self.assertEqual((peer, reason), ("127.0.0.2", Usher.Refusal.PEER_RATE))
            self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.BUSY))
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.PEER_RATE),
                         len(self.refusals))

        steady = connect_from("127.0.0.3", port)
        self.addCleanup(steady.close)
        iterate_until(lambda: "127.0.0.3" in self.peers_held())

    def test_memory_pressure_from_a_fake_monitor_pauses_accepting(self):
        monitor = FakeMonitor()
        self.service.set_memory_monitor(monitor)
        overloaded = []
        self.service.connect("notify::overloaded",
                             lambda service, pspec: overloaded.append(service.props.overloaded))
        listening = []
        self.service.connect("event", lambda listener, event, gsocket:
                             listening.append(gsocket)
                             if event == Gio.SocketListenerEvent.LISTENED else None)
        port = listen_loopback(self.service)

        monitor.warn(Gio.MemoryMonitorWarningLevel.LOW)
        self.assertFalse(self.service.props.overloaded)
        monitor.warn(Gio.MemoryMonitorWarningLevel.MEDIUM)
        self.assertTrue(self.service.get_overloaded())
        iterate_until(lambda: overloaded)
        self.assertEqual(overloaded, [True])
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.OVERLOAD), 1)

        # The client waits in the backlog, which the service leaves alone.
        waiting = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.addCleanup(waiting.close)
        self.assertTrue(listening[0].condition_check(GLib.IOCondition.IN) & GLib.IOCondition.IN)
        drain()
        self.assertEqual(self.held, [])

        monitor.warn(Gio.MemoryMonitorWarningLevel.LOW)
        iterate_until(lambda: self.held)
        self.assertFalse(self.service.props.overloaded)
        iterate_until(lambda: len(overloaded) == 2)
        self.assertEqual(overloaded, [True, False])
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.OVERLOAD), 1)

        # A monitor no longer the service's warns in vain.
        self.service.props.memory_monitor = None
        monitor.warn(Gio.MemoryMonitorWarningLevel.CRITICAL)
        self.assertFalse(self.service.props.overloaded)
        self.assertEqual(self.refusals, [])
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
