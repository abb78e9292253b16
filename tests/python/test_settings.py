#!/usr/bin/python3
"""Settings per listening socket through PyGObject: Usher.SocketSettings made with keyword
properties and changed through props, is_set() and unset(), the service's properties as views of
its socket-settings, the add_*_full() functions, one service with a plain port and a TLS port
against Python's `ssl` client, a port trusting a PROXY protocol peer beside a direct one,
SocketSettings.get_for_connection() and SocketService.get_listening_socket(), TCP options read
back on accepted sockets, set_socket_settings(), settings by name for an activated socket, and
try_set_proxy_protocol_peers() raising GLib.Error."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402

from common import (DEADLINE, activated, add_loopback_address,  # noqa: E402
                    answer_first_client, iterate_until, listen_loopback, run_in_thread)

CERTS = None  # the directory of the certificate, made by setUpModule

SETTINGS = ["tls-certificate", "tls-database", "tls-authentication-mode",
            "tls-advertised-protocols", "tls-handshake-timeout", "proxy-protocol-peers",
            "proxy-protocol-required", "proxy-protocol-timeout", "timeout", "tcp-keepalive",
            "tcp-keepalive-idle", "tcp-keepalive-interval", "tcp-keepalive-count",
            "tcp-user-timeout", "tcp-defer-accept", "unix-mode", "unix-owner", "unix-group",
            "allowed-users", "allowed-groups", "peer-rate", "peer-rate-burst", "rate",
            "rate-burst", "tls-handshakes-per-peer", "tls-handshake-rate", "allowed-peers",
            "denied-peers", "name"]


def setUpModule():
    """A self-signed certificate for localhost and 127.0.0.1, made by openssl."""
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="usher-python-settings-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   cwd=CERTS, check=True, capture_output=True)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def server_certificate():
    return Gio.TlsCertificate.new_from_files(os.path.join(CERTS, "cert.pem"),
                                             os.path.join(CERTS, "key.pem"))


def exchange(port, line, tls=False):
    """A client, over TLS trusting only the test certificate if tls: sends line and returns the
    line it reads back, while the main context runs."""
    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
            if not tls:
                raw.sendall(line.encode() + b"\n")
                return raw.makefile("rb").readline().decode()
            context = ssl.create_default_context(cafile=os.path.join(CERTS, "cert.pem"))
            with context.wrap_socket(raw, server_hostname="localhost") as secure:
                secure.sendall(line.encode() + b"\n")
                return secure.makefile("rb").readline().decode()

    return run_in_thread(client)


def reserve_port():
    """A socket bound, not listening, to a free TCP port of every address, with SO_REUSEADDR as
    GLib binds its own: the port stays free for add_inet_port_full() and nobody else."""
    try:
        reserved = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        address = ("::", 0)
    except OSError:
        reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", 0)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.bind(address)
    return reserved


def tcp_option(connection, level, name):
    """An integer option of a connection's socket, read by Python on a duplicate of its
    descriptor."""
    with socket.socket(fileno=os.dup(connection.get_socket().get_fd())) as duplicate:
        return duplicate.getsockopt(level, name)


def port_of(gsocket):
    return gsocket.get_local_address().get_port()


class Served(unittest.TestCase):
    """A service that keeps every connection it hands out, in self.held, and echoes its first
    line, over TLS or not."""

    def setUp(self):
        self.service = Usher.SocketService()
        self.held = []
        self.errors = []
        self.service.connect("incoming", self.echo)
        self.service.connect("accept-error", lambda service, error: self.errors.append(error))
        self.addCleanup(self.service.close)

    def echo(self, service, connection, source_object):
        self.held.append(connection)
        lines = Gio.DataInputStream.new(connection.get_input_stream())

        def read(stream, result):
            try:
                line, _ = stream.read_line_finish_utf8(result)
            except GLib.Error:
                return  # a client that only connected
            if line is not None:
                connection.get_output_stream().write_all((line + "\n").encode(), None)
            connection.close(None)

        lines.read_line_async(GLib.PRIORITY_DEFAULT, None, read)
        return False

    def accept(self, port):
        """Connects a client that says nothing, and returns the connection handed out for it;
        the client stays open until the test ends."""
        count = len(self.held) + 1
        client = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.addCleanup(client.close)
        iterate_until(lambda: len(self.held) == count)
        return self.held[-1]


class Settings(unittest.TestCase):
    def test_settings_set_nothing_until_set(self):
        settings = Usher.SocketSettings()
        # And, read-only, set by calls: the names with a certificate of their own, a setting,
        # and the files tls-certificate was loaded from, part of that setting.
        writable = [spec.name for spec in settings.list_properties()
                    if spec.flags & GObject.ParamFlags.WRITABLE]
        self.assertEqual(writable, SETTINGS)
        self.assertEqual([spec.name for spec in settings.list_properties()
                          if not spec.flags & GObject.ParamFlags.WRITABLE],
                         ["tls-certificate-file", "tls-key-file", "tls-certificate-names"])
        self.assertEqual([name for name in SETTINGS if settings.is_set(name)], [])
        self.assertEqual(settings.props.tls_handshake_timeout, 10)
        self.assertTrue(settings.props.proxy_protocol_required)
        self.assertEqual(settings.props.proxy_protocol_peers, [])
        self.assertIsNone(settings.props.tls_certificate)
        notified = []
        settings.connect("notify", lambda settings, pspec: notified.append(pspec.name))

        # Set to its default value, or to None, a setting is set all the same.
        settings.props.timeout = 0
        settings.props.tls_certificate = None
        settings.props.timeout = 0
        self.assertTrue(settings.is_set("timeout"))
        self.assertTrue(settings.is_set("tls-certificate"))
        self.assertEqual(notified, ["timeout", "tls-certificate"])
        settings.unset("timeout")
        settings.unset("timeout")
        self.assertFalse(settings.is_set("timeout"))
        self.assertEqual(notified, ["timeout", "tls-certificate", "timeout"])

        made = Usher.SocketSettings(tcp_keepalive=True, tcp_user_timeout=1500,
                                    tls_advertised_protocols=["h2", "http/1.1"])
        self.assertEqual([name for name in SETTINGS if made.is_set(name)],
                         ["tls-advertised-protocols", "tcp-keepalive", "tcp-user-timeout"])
        self.assertEqual(made.get_tls_advertised_protocols(), ["h2", "http/1.1"])
        self.assertEqual(made.props.tcp_user_timeout, 1500)
        made.set_tcp_keepalive_count(5)
        self.assertEqual((made.get_tcp_keepalive_count(), made.is_set("tcp-keepalive-count")),
                         (5, True))

    def test_a_value_out_of_range_is_refused_without_aborting(self):
        # The method is the C setter: beyond the property's maximum, a critical and nothing set.
        # In a child without G_DEBUG=fatal-warnings, for the critical not to abort it.
        env = {name: value for name, value in os.environ.items() if name != "G_DEBUG"}
        env["RUST_BACKTRACE"] = "0"
        child = subprocess.run([sys.executable, __file__, "--out-of-range"], env=env,
                               capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(child.returncode, 0, child.stderr[:1000])
        self.assertEqual(child.stdout, "set False, 0\n")
        self.assertIn("usher_socket_settings_set_tcp_keepalive_idle", child.stderr)

    def test_try_set_proxy_protocol_peers_raises_glib_error(self):
        settings = Usher.SocketSettings()
        self.assertTrue(settings.try_set_proxy_protocol_peers(["127.0.0.1", "fd00::/8"]))
        self.assertEqual(settings.get_proxy_protocol_peers(), ["127.0.0.1", "fd00::/8"])
        with self.assertRaises(GLib.Error) as raised:
            settings.try_set_proxy_protocol_peers(["192.0.2.1", "localhost"])
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertIn("localhost", raised.exception.message)
        self.assertEqual(settings.props.proxy_protocol_peers, ["127.0.0.1", "fd00::/8"])
        settings.try_set_proxy_protocol_peers([])
        self.assertEqual(settings.props.proxy_protocol_peers, [])
        self.assertTrue(settings.is_set("proxy-protocol-peers"))

    def test_the_services_properties_are_views_of_its_socket_settings(self):
        service = Usher.SocketService()
        own = service.get_socket_settings()
        self.assertIsInstance(own, Usher.SocketSettings)
        self.assertIs(service.props.socket_settings, own)
        with self.assertRaises(TypeError):
            service.props.socket_settings = Usher.SocketSettings()
        notified = []
        service.connect("notify::timeout", lambda service, pspec: notified.append(pspec.name))
        own.props.timeout = 9
        self.assertEqual((service.props.timeout, notified), (9, ["timeout"]))
        service.props.timeout = 9
        self.assertEqual(notified, ["timeout"])
        service.set_proxy_protocol_required(False)
        self.assertTrue(own.is_set("proxy-protocol-required"))
        self.assertFalse(own.props.proxy_protocol_required)
        own.unset("timeout")
        self.assertEqual((service.get_timeout(), len(notified)), (0, 2))


class Sockets(Served):
    def test_a_plain_port_and_a_tls_port(self):
        certificate = server_certificate()  # held: props borrows it
        self.service.props.tls_certificate = certificate
        tls_port = listen_loopback(self.service)
        plain = Usher.SocketSettings(tls_certificate=None)
        self.assertTrue(plain.is_set("tls-certificate"))
        plain_port = add_loopback_address(self.service, plain)

        self.assertEqual(exchange(tls_port, "secret", tls=True), "secret\n")
        self.assertEqual(exchange(plain_port, "in the clear"), "in the clear\n")
        over_tls, in_clear = self.held
        self.assertIsInstance(over_tls, Gio.TcpWrapperConnection)
        self.assertIsInstance(over_tls.get_base_io_stream(), Gio.TlsServerConnection)
        self.assertNotIsInstance(in_clear, Gio.TcpWrapperConnection)
        self.assertIs(Usher.SocketSettings.get_for_connection(over_tls),
                      self.service.props.socket_settings)
        self.assertIs(Usher.SocketSettings.get_for_connection(in_clear), plain)
        listening = [Usher.SocketService.get_listening_socket(connection)
                     for connection in self.held]
        self.assertTrue(all(isinstance(each, Gio.Socket) for each in listening), listening)
        self.assertEqual([port_of(each) for each in listening], [tls_port, plain_port])

        # Unset, the plain port takes its service's certificate: TLS.
        plain.unset("tls-certificate")
        self.assertEqual(exchange(plain_port, "now over TLS", tls=True), "now over TLS\n")
        self.assertIsInstance(self.held[2], Gio.TcpWrapperConnection)
        self.assertEqual(self.errors, [])

    def test_a_port_trusting_a_balancer_beside_a_direct_port(self):
        behind = Usher.SocketSettings()
        behind.try_set_proxy_protocol_peers(["127.0.0.1"])
        proxied_port = add_loopback_address(self.service, behind)
        direct_port = listen_loopback(self.service)

        header = "PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nhello"
        self.assertEqual(exchange(proxied_port, header), "hello\n")
        info = Usher.ProxyInfo.get_for_connection(self.held[0])
        self.assertEqual(info.get_source_address().get_address().to_string(), "192.0.2.9")
        self.assertEqual(exchange(direct_port, "direct"), "direct\n")
        self.assertIsNone(Usher.ProxyInfo.get_for_connection(self.held[1]))
        self.assertEqual(self.service.props.proxy_protocol_peers, [])
        self.assertEqual(self.errors, [])

    def test_tcp_options_are_read_back_on_accepted_sockets(self):
        tuned = Usher.SocketSettings(tcp_keepalive=True, tcp_keepalive_idle=77,
                                     tcp_keepalive_interval=11, tcp_keepalive_count=4,
                                     tcp_user_timeout=3456)
        port = add_loopback_address(self.service, tuned)
        connection = self.accept(port)
        self.assertEqual(tcp_option(connection, socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
        self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), 77)
        self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), 11)
        self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_KEEPCNT), 4)
        self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                         3456)
        # Gio.Socket.get_option() reads the same.
        self.assertEqual(connection.get_socket().get_option(socket.IPPROTO_TCP,
                                                            socket.TCP_USER_TIMEOUT),
                         (True, 3456))
        self.assertTrue(connection.get_socket().get_keepalive())

        # A change applies to the connection accepted next, not to the one before.
        tuned.props.tcp_user_timeout = 1200
        tuned.props.timeout = 6
        after = self.accept(port)
        self.assertEqual(tcp_option(after, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT), 1200)
        self.assertEqual(after.get_socket().get_timeout(), 6)
        self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                         3456)
        self.assertEqual(connection.get_socket().get_timeout(), 0)

    def test_add_inet_port_full_and_add_any_inet_port_full(self):
        tuned = Usher.SocketSettings(tcp_keepalive=True, tcp_user_timeout=2345)
        reserved = reserve_port()
        port = reserved.getsockname()[1]
        try:
            self.assertTrue(self.service.add_inet_port_full(port, None, tuned))
        finally:
            reserved.close()
        any_port = self.service.add_any_inet_port_full(None, tuned)
        self.assertNotEqual(any_port, 0)
        for each in (port, any_port):
            with self.subTest(port=each):
                connection = self.accept(each)
                self.assertIs(Usher.SocketSettings.get_for_connection(connection), tuned)
                self.assertEqual(
                    tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT), 2345)
                self.assertEqual(
                    tcp_option(connection, socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
                self.assertEqual(tcp_option(connection, socket.IPPROTO_TCP, socket.TCP_NODELAY),
                                 1)

    def test_add_socket_full_and_set_socket_settings(self):
        tag = Gio.SimpleAction.new("tag", None)
        sources = []
        self.service.connect("incoming", lambda service, connection, source:
                             sources.append(source) or False)
        made = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM,
                              Gio.SocketProtocol.TCP)
        made.bind(Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), True)
        made.listen()
        given = Usher.SocketSettings(timeout=4)
        self.assertTrue(self.service.add_socket_full(made, tag, given))
        connection = self.accept(port_of(made))
        self.assertEqual(Usher.SocketService.get_listening_socket(connection), made)
        self.assertIs(Usher.SocketSettings.get_for_connection(connection), given)
        self.assertEqual(connection.get_socket().get_timeout(), 4)
        self.assertEqual(sources, [tag])

        # Settings taken back: the service's.
        self.assertTrue(self.service.set_socket_settings(made, None))
        connection = self.accept(port_of(made))
        self.assertIs(Usher.SocketSettings.get_for_connection(connection),
                      self.service.get_socket_settings())
        self.assertEqual(connection.get_socket().get_timeout(), 0)

        stranger = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM,
                                  Gio.SocketProtocol.TCP)
        with self.assertRaises(GLib.Error) as raised:
            self.service.set_socket_settings(stranger, given)
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.NOT_FOUND),
                        raised.exception.message)

    def test_a_connection_of_no_service_has_neither(self):
        port = listen_loopback(self.service)
        client = Gio.SocketClient().connect_to_host("127.0.0.1", port, None)
        self.addCleanup(client.close, None)
        iterate_until(lambda: self.held)
        self.assertIsNone(Usher.SocketSettings.get_for_connection(client))
        self.assertIsNone(Usher.SocketService.get_listening_socket(client))
        self.assertIs(Usher.SocketSettings.get_for_connection(self.held[0]),
                      self.service.props.socket_settings)


def serve_activated(when):
    """The activated server: gives the socket named "web" settings with a timeout of 7, before
    or after it adds the sockets passed to it, and answers one client with its connection's
    timeout and whether its settings are those."""
    service = Usher.SocketService()
    web = Usher.SocketSettings(timeout=7)
    service.set_named_socket_settings("other", Usher.SocketSettings(timeout=9))
    if when == "before":
        service.set_named_socket_settings("web", web)
    added = service.add_activated_sockets(lambda name: None)
    if when == "after":
        service.set_named_socket_settings("web", web)

    def reply(connection, source_object):
        same = Usher.SocketSettings.get_for_connection(connection) is web
        return f"added {added} timeout {connection.get_socket().get_timeout()} same {same}\n"

    answer_first_client(service, reply)


class Activated(unittest.TestCase):
    def test_settings_given_by_name_to_an_activated_socket(self):
        for when in ("before", "after"):
            with self.subTest(when=when):
                reply, status, _, errors = activated(__file__, "--serve", when)
                self.assertEqual(status, 0, errors)
                self.assertEqual(reply, "added 1 timeout 7 same True\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_activated(sys.argv[2])
    elif sys.argv[1:] == ["--out-of-range"]:
        beyond = Usher.SocketSettings()
        beyond.set_tcp_keepalive_idle(40000)
        print(f"set {beyond.is_set('tcp-keepalive-idle')}, {beyond.props.tcp_keepalive_idle}")
    else:
        unittest.main(verbosity=2)
