#!/usr/bin/python3
"""Certificates while serving, through PyGObject: by server name (Python's own `ssl` clients
asking for a.test, b.test, x.wild.test and no name, the serial and subject they were served),
Usher.ClientHello, select-certificate from a handler and a subclass, files replaced by a rename
while clients connect without pause, a half-written file reported and kept out, and the
certificate changed from another thread. The certificates are made by openssl once."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import (DEADLINE, add_loopback_address, in_thread, iterate_until,  # noqa: E402
                    run_in_thread, serve)

CERTS = None
NAMES = {"default": ("default.test", 0xD1), "default2": ("default.test", 0xD2),
         "a": ("a.test", 0xA1), "b": ("b.test", 0xB1), "wild": ("*.wild.test", 0xC1),
         "late": ("late.test", 0xE1)}


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="usher-python-certificates-")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=CERTS, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Usher Python names CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for stem, (name, serial) in NAMES.items():
        with open(os.path.join(CERTS, f"{stem}.ext"), "w") as ext:
            ext.write(f"subjectAltName=DNS:{name}\n")
        openssl("req", *key, "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", str(serial), "-days", "2", "-extfile", f"{stem}.ext",
                "-out", f"{stem}.pem")
        with open(path(f"{stem}.both.pem"), "wb") as both:
            both.write(read(f"{stem}.pem") + read(f"{stem}.key"))


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def path(file):
    return os.path.join(CERTS, file)


def read(file):
    with open(path(file), "rb") as opened:
        return opened.read()


def certificate(stem):
    return Gio.TlsCertificate.new_from_file(path(f"{stem}.both.pem"))


def served(port, name, alpn=None):
    """A TLS client asking for name (None: no name): (serial, subject CN) of the certificate it
    was served, once its line was echoed."""
    context = ssl.create_default_context(cafile=path("ca.pem"))
    context.check_hostname = name is not None
    if alpn:
        context.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(b"hello\n")
            assert tls.makefile("rb").readline() == b"hello\n"
            peer = tls.getpeercert()
            subject = dict(pair[0] for pair in peer["subject"])
            return int(peer["serialNumber"], 16), subject["commonName"]


def replace_by_rename(file, data):
    with open(file + ".tmp", "wb") as temporary:
        temporary.write(data)
    os.replace(file + ".tmp", file)


class Echo(Usher.SocketService):
    """Echoes one line; records the ClientHello of each connection and the accept errors."""

    def __init__(self, **properties):
        super().__init__(**properties)
        self.hellos = []
        self.errors = []
        self.connect("accept-error", lambda service, error: self.errors.append(error.message))

    def do_incoming(self, connection, source_object):
        self.hellos.append(Usher.ClientHello.get_for_connection(connection))
        lines = Gio.DataInputStream.new(connection.get_input_stream())

        def read_line(stream, result):
            line, _ = stream.read_line_finish_utf8(result)
            if line is not None:
                connection.get_output_stream().write_all((line + "\n").encode(), None)
            connection.close(None)

        lines.read_line_async(GLib.PRIORITY_DEFAULT, None, read_line)
        return False


class Certificates(unittest.TestCase):
    def watched(self, stem):
        """A directory of the test's own, with stem's certificate and key in cert.pem."""
        directory = tempfile.mkdtemp(prefix="usher-python-watched-", dir=CERTS)
        file = os.path.join(directory, "cert.pem")
        shutil.copy(path(f"{stem}.both.pem"), file)
        return file

    def test_clients_are_served_the_certificate_of_the_name_they_ask_for(self):
        service = Echo()
        settings = service.props.socket_settings
        settings.set_tls_certificate_files(path("default.both.pem"), None)
        settings.set_tls_certificate_for_name("a.test", certificate("a"))
        settings.set_tls_certificate_files_for_name("b.test", path("b.pem"), path("b.key"))
        settings.set_tls_certificate_for_name("*.wild.test", certificate("wild"))
        self.assertEqual(settings.props.tls_certificate_names, ["a.test", "b.test", "*.wild.test"])
        self.assertEqual(settings.props.tls_certificate_file, path("default.both.pem"))
        port = serve(self, service)
        for name, stem in [("a.test", "a"), ("b.test", "b"), ("x.wild.test", "wild"),
                           (None, "default")]:
            with self.subTest(name):
                serial, subject = run_in_thread(lambda: served(port, name, ["h2", "http/1.1"]))
                self.assertEqual((subject, serial), NAMES[stem])
        self.assertEqual([hello.props.server_name for hello in service.hellos],
                         ["a.test", "b.test", "x.wild.test", None])
        self.assertEqual(service.hellos[0].props.alpn_protocols, ["h2", "http/1.1"])
        self.assertEqual(service.errors, [])
        with self.assertRaises(GLib.Error) as raised:
            settings.set_tls_certificate_for_name("*.*.test", None)
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))

    def test_select_certificate_from_a_handler_and_a_subclass(self):
        late = certificate("late")
        service = Echo(tls_certificate=certificate("default"))
        asked = []

        def select(service, connection, hello):
            asked.append(hello.props.server_name)
            return late if hello.props.server_name == "late.test" else None

        service.connect("select-certificate", select)
        port = serve(self, service)
        self.assertEqual(run_in_thread(lambda: served(port, "late.test"))[0], 0xE1)
        self.assertEqual(run_in_thread(lambda: served(port, None))[0], 0xD1)
        self.assertEqual(asked, ["late.test", None])

        class Chooser(Echo):
            def do_select_certificate(self, connection, hello):
                return certificate("wild")

        chooser = Chooser(tls_certificate=certificate("default"))
        port = serve(self, chooser)
        self.assertEqual(run_in_thread(lambda: served(port, "x.wild.test"))[0], 0xC1)
        self.assertEqual(chooser.hellos[0].props.server_name, "x.wild.test")

    def test_a_rename_serves_from_the_next_handshake_and_no_handshake_fails(self):
        file = self.watched("default")
        service = Echo()
        service.props.socket_settings.set_tls_certificate_files(file, None)
        swapped = []
        service.props.socket_settings.connect("notify::tls-certificate",
                                              lambda *_: swapped.append(True))
        port = serve(self, service)
        serials = []
        stop = threading.Event()

        def clients():
            while not stop.is_set():
                serials.append(served(port, None)[0])

        thread, outcome = in_thread(clients)
        iterate_until(lambda: len(serials) >= 10 or "done" in outcome)
        replace_by_rename(file, read("default2.both.pem"))
        iterate_until(lambda: swapped)
        seen = len(serials)
        iterate_until(lambda: len(serials) >= seen + 10 or "done" in outcome)
        stop.set()
        iterate_until(lambda: "done" in outcome)
        self.assertNotIn("error", outcome)
        first_new = serials.index(0xD2)
        self.assertEqual(set(serials[:first_new]), {0xD1})
        self.assertEqual(set(serials[first_new:]), {0xD2})
        self.assertEqual(service.errors, [])

    def test_a_half_written_file_keeps_the_old_certificate_and_is_reported(self):
        file = self.watched("default")
        settings = Usher.SocketSettings()
        settings.set_tls_certificate_files(file, None)
        failures = []
        settings.connect("tls-certificate-reload-failed",
                         lambda settings, file, error: failures.append((file, error)))
        service = Echo()
        port = add_loopback_address(service, settings)
        self.addCleanup(service.close)
        new = read("default2.both.pem")
        replace_by_rename(file, new[:len(new) // 2])
        iterate_until(lambda: failures)
        self.assertEqual(failures[0][0], file)
        self.assertTrue(failures[0][1].matches(Gio.tls_error_quark(),
                                               Gio.TlsError.BAD_CERTIFICATE))
        self.assertEqual(run_in_thread(lambda: served(port, None))[0], 0xD1)
        replace_by_rename(file, new)
        iterate_until(lambda: settings.props.tls_certificate.is_same(
            Gio.TlsCertificate.new_from_pem(new.decode(), -1)))
        self.assertEqual(run_in_thread(lambda: served(port, None))[0], 0xD2)
        settings.reload_tls_certificates()

    def test_the_certificate_changed_from_another_thread_serves_the_next_handshakes(self):
        service = Echo(tls_certificate=certificate("default"))
        port = serve(self, service)
        self.assertEqual(run_in_thread(lambda: served(port, None))[0], 0xD1)
        replacement = certificate("default2")
        changed = run_in_thread(lambda: service.set_property("tls-certificate", replacement))
        self.assertIsNone(changed)
        self.assertEqual(run_in_thread(lambda: served(port, None))[0], 0xD2)


if __name__ == "__main__":
    unittest.main()
