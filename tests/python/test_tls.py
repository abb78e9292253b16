#!/usr/bin/python3
"""TLS through PyGObject: an Usher service with tls-certificate, against Python's own `ssl`
module as the client (on a thread; the GLib main context runs on the main thread). TLS 1.2 and
1.3, ALPN, handshake failures reported with accept-error, the handshake timeout, required client
certificates, and accept-certificate overridden in a Python subclass."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import (DEADLINE, in_thread, iterate_until, read_to_end,  # noqa: E402
                    run_in_thread, serve)

CERTS = None  # the directory of the certificates, made by setUpModule


def setUpModule():
    """A CA, a server certificate for localhost and 127.0.0.1 and a client certificate signed
    by it, and a self-signed client certificate it does not know, all made by openssl."""
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="usher-python-tls-")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=CERTS, check=True, capture_output=True)

    # A CA's key usage, which strict verification (Python ≥ 3.13's default) requires.
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Usher Python test CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subject, extension in [
            ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ("client", "/CN=client", "extendedKeyUsage=clientAuth")]:
        with open(os.path.join(CERTS, f"{name}.ext"), "w") as ext:
            ext.write(extension + "\n")
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    openssl("req", "-x509", *key, "-keyout", "stranger.key", "-out", "stranger.pem",
            "-days", "2", "-subj", "/CN=stranger", "-addext", "extendedKeyUsage=clientAuth")


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def server_certificate():
    return Gio.TlsCertificate.new_from_files(cert("server.pem"), cert("server.key"))


def client_context(version=None, alpn=None, certificate=None):
    context = ssl.create_default_context(cafile=cert("ca.pem"))
    if version is not None:
        context.minimum_version = context.maximum_version = version
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    if certificate is not None:
        context.load_cert_chain(cert(certificate + ".pem"), cert(certificate + ".key"))
    return context


def tls_exchange(port, context, line="hello"):
    """A TLS client: sends line, returns (echo, TLS version, ALPN protocol). An echo of "" means
    the server closed the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(line.encode() + b"\n")
            echo = tls.makefile("rb").readline().decode()
            return echo, tls.version(), tls.selected_alpn_protocol()


def is_tls_error(error):
    return error.domain == GLib.quark_to_string(Gio.tls_error_quark())


class TlsEcho(Usher.SocketService):
    """Echoes one line asynchronously; records what it served and its accept errors."""

    def __init__(self, **properties):
        super().__init__(tls_certificate=server_certificate(), **properties)
        self.served = []
        self.protocols = []
        self.errors = []
        self.connect("accept-error", lambda service, error: self.errors.append(error))

    def do_incoming(self, connection, source_object):
        self.protocols.append(connection.get_base_io_stream().get_negotiated_protocol())
        input = Gio.DataInputStream.new(connection.get_input_stream())

        def echoed(output, result):
            output.write_all_finish(result)
            connection.close(None)

        def read(stream, result):
            line, _ = stream.read_line_finish_utf8(result)
            self.served.append(line)
            connection.get_output_stream().write_all_async(
                (line + "\n").encode(), GLib.PRIORITY_DEFAULT, None, echoed)

        input.read_line_async(GLib.PRIORITY_DEFAULT, None, read)
        return False


class Tls(unittest.TestCase):
    def test_echo_over_tls_1_2_and_1_3(self):
        service = TlsEcho()
        port = serve(self, service)
        for version, name in [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                              (ssl.TLSVersion.TLSv1_3, "TLSv1.3")]:
            with self.subTest(name):
                echo, negotiated, _ = run_in_thread(
                    lambda: tls_exchange(port, client_context(version), name))
                self.assertEqual(echo, name + "\n")
                self.assertEqual(negotiated, name)
        self.assertEqual(service.served, ["TLSv1.2", "TLSv1.3"])
        self.assertEqual(service.errors, [])
        iterate_until(lambda: service.props.n_connections == 0)

    def test_incoming_gets_a_tcp_wrapper_around_the_tls_server_connection(self):
        service = Usher.SocketService(tls_certificate=server_certificate())
        shapes = []

        def incoming(service, connection, source_object):
            base = connection.get_base_io_stream()
            # A subclass of the type (Usher sees it close), as GTcpConnection's are.
            shapes.append((isinstance(connection, Gio.TcpWrapperConnection),
                           isinstance(base, Gio.TlsServerConnection),
                           isinstance(base.props.base_io_stream, Gio.SocketConnection)))
            connection.get_output_stream().write_all(b"hi\n", None)
            return False

        service.connect("incoming", incoming)
        port = serve(self, service)
        self.assertEqual(
            run_in_thread(lambda: tls_exchange(port, client_context()))[0], "hi\n")
        self.assertEqual(shapes, [(True, True, True)])

    def test_closing_the_connection_handed_to_incoming_ends_its_count(self):
        # The application keeps its connections (as servers that track their clients do), so
        # only their close, not their finalization, can end their count.
        service = Usher.SocketService(tls_certificate=server_certificate())
        kept = []
        closed = []

        def incoming(service, connection, source_object):
            kept.append(connection)
            connection.get_output_stream().write_all(b"bye\n", None)
            if len(kept) == 1:
                connection.close(None)
                closed.append("sync")
            else:
                def done(connection, result):
                    connection.close_finish(result)
                    closed.append("async")
                connection.close_async(GLib.PRIORITY_DEFAULT, None, done)
            return False

        service.connect("incoming", incoming)
        port = serve(self, service)
        for _ in range(2):
            self.assertEqual(
                run_in_thread(lambda: tls_exchange(port, client_context()))[0], "bye\n")
        iterate_until(lambda: len(closed) == 2)
        self.assertTrue(all(connection.is_closed() for connection in kept))
        try:
            iterate_until(lambda: service.props.n_connections == 0)
        except AssertionError:
            self.fail(f"{service.props.n_connections} closed connections still counted")
        shut_down = []
        service.shutdown_async(None, lambda s, result: shut_down.append(s.shutdown_finish(result)))
        iterate_until(lambda: shut_down)
        self.assertEqual(shut_down, [True])

    def test_alpn_negotiates_the_advertised_protocol(self):
        service = TlsEcho(tls_advertised_protocols=["http/1.1"])
        self.assertEqual(service.get_tls_advertised_protocols(), ["http/1.1"])
        port = serve(self, service)
        echo, _, selected = run_in_thread(
            lambda: tls_exchange(port, client_context(alpn=["h2", "http/1.1"])))
        self.assertEqual(echo, "hello\n")
        self.assertEqual(selected, "http/1.1")
        self.assertEqual(service.protocols, ["http/1.1"])

    def test_without_alpn_no_protocol_is_negotiated(self):
        service = TlsEcho()
        port = serve(self, service)
        echo, _, selected = run_in_thread(
            lambda: tls_exchange(port, client_context(alpn=["h2", "http/1.1"])))
        self.assertEqual(echo, "hello\n")
        self.assertIsNone(selected)
        self.assertEqual(service.protocols, [None])

    def test_a_plaintext_client_is_reported_and_the_service_keeps_serving(self):
        service = TlsEcho()
        port = serve(self, service)

        def plaintext():
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return read_to_end(conn)

        _, answer = in_thread(plaintext)
        iterate_until(lambda: service.errors and "done" in answer)
        self.assertNotIn("error", answer)
        self.assertNotIn(b"GET", answer["value"])  # no echo, and no HTTP either
        self.assertEqual(len(service.errors), 1)
        self.assertTrue(is_tls_error(service.errors[0]),
                        f"not a Gio.TlsError: {service.errors[0]}")
        self.assertEqual(service.served, [])
        self.assertEqual(service.props.n_accept_errors, 1)
        # The service keeps serving.
        self.assertEqual(
            run_in_thread(lambda: tls_exchange(port, client_context(), "after"))[0], "after\n")
        self.assertEqual(len(service.errors), 1)
        iterate_until(lambda: service.props.n_connections == 0)

    def test_a_silent_client_is_dropped_after_the_handshake_timeout(self):
        service = TlsEcho(tls_handshake_timeout=1)
        self.assertEqual(service.props.tls_handshake_timeout, 1)
        port = serve(self, service)
        client = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.addCleanup(client.close)
        start = time.monotonic()
        iterate_until(lambda: service.errors)
        elapsed = time.monotonic() - start
        self.assertTrue(service.errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT),
                        f"not TIMED_OUT: {service.errors[0]}")
        self.assertGreater(elapsed, 0.5)
        self.assertLess(elapsed, 5)  # the setting, not the default of 10 seconds
        iterate_until(lambda: service.props.n_connections == 0)
        # The client sees the connection closed: TLS records of the server's first flight at most.
        read_to_end(client)
        self.assertEqual(service.served, [])

    def required_client_certificates(self, service_class=TlsEcho):
        return service_class(
            tls_authentication_mode=Gio.TlsAuthenticationMode.REQUIRED,
            tls_database=Gio.TlsFileDatabase.new(cert("ca.pem")))

    def assert_refused(self, service, port, certificate):
        try:
            echo = run_in_thread(
                lambda: tls_exchange(port, client_context(certificate=certificate)))[0]
        except (ssl.SSLError, ConnectionError) as error:
            echo = error
        # TLS 1.3: the client's handshake completes before the server judges its certificate,
        # so it sees the refusal as an alert or as the end of the stream.
        self.assertTrue(echo == "" or isinstance(echo, Exception), f"served: {echo!r}")
        iterate_until(lambda: service.errors)
        self.assertTrue(is_tls_error(service.errors[0]), f"not a Gio.TlsError: {service.errors[0]}")
        self.assertEqual(service.served, [])

    def test_a_required_client_certificate_refuses_clients_without_one(self):
        service = self.required_client_certificates()
        self.assertEqual(service.props.tls_authentication_mode,
                         Gio.TlsAuthenticationMode.REQUIRED)
        port = serve(self, service)
        self.assert_refused(service, port, None)

    def test_a_required_client_certificate_serves_one_signed_by_the_ca(self):
        service = self.required_client_certificates()
        port = serve(self, service)
        echo = run_in_thread(lambda: tls_exchange(port, client_context(certificate="client")))[0]
        self.assertEqual(echo, "hello\n")
        self.assertEqual(service.errors, [])

    def test_an_unknown_client_certificate_is_refused_by_default(self):
        service = self.required_client_certificates()
        port = serve(self, service)
        self.assert_refused(service, port, "stranger")

    def test_do_accept_certificate_in_a_subclass_accepts_an_unknown_client_certificate(self):
        class Judge(TlsEcho):
            def __init__(self, **properties):
                super().__init__(**properties)
                self.judged = []

            def do_accept_certificate(self, connection, peer_certificate, errors):
                self.judged.append((isinstance(connection, Gio.TlsServerConnection),
                                    peer_certificate, errors))
                return True

        service = self.required_client_certificates(Judge)
        port = serve(self, service)
        echo = run_in_thread(lambda: tls_exchange(port, client_context(certificate="stranger")))[0]
        self.assertEqual(echo, "hello\n")
        self.assertEqual(service.errors, [])
        self.assertEqual(len(service.judged), 1)
        is_server_connection, peer, errors = service.judged[0]
        self.assertTrue(is_server_connection)
        self.assertTrue(peer.is_same(Gio.TlsCertificate.new_from_file(cert("stranger.pem"))))
        self.assertTrue(errors & Gio.TlsCertificateFlags.UNKNOWN_CA, errors)

    def test_a_client_certificate_signed_by_the_ca_is_accepted_without_asking(self):
        asked = []
        service = self.required_client_certificates()
        service.connect("accept-certificate", lambda *args: asked.append(args) or False)
        port = serve(self, service)
        echo = run_in_thread(lambda: tls_exchange(port, client_context(certificate="client")))[0]
        self.assertEqual(echo, "hello\n")
        self.assertEqual(asked, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
