#!/usr/bin/python3
"""Local services through PyGObject: a Unix socket file made by add_address_full() with its
mode, owner and group (as root) read back with os.stat, a live path refused with
ADDRESS_IN_USE, a regular file untouched, a stale socket file replaced, the file removed at
shutdown, an abstract name; peer credentials: the accept-credentials signal refusing then
accepting, with the refused signal (no peer, Usher.Refusal.CREDENTIALS) and get_n_refused(),
SocketService.get_peer_credentials(), a Python subclass overriding do_accept_credentials,
try_set_allowed_users(["root"]) and its GLib.Error, a client run as 65534 with setpriv (as
root), and an invalid name through the property being a critical, in a child."""

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import DEADLINE, iterate_until, listen_loopback, run_in_thread  # noqa: E402

GREETING = b"welcome\n"


def visit(address):
    """Connects to the Unix socket address (a path, or "\\0name" for an abstract name) and
    returns what the client reads first, while the main context runs: b"" if the service
    closed the connection."""
    def client():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            unix.settimeout(DEADLINE)
            unix.connect(address)
            try:
                return unix.recv(64)
            except ConnectionResetError:
                return b""

    return run_in_thread(client)


def listen_at(service, path, settings=None):
    """Listens on the Unix socket at path with settings; returns the effective address."""
    added, effective = service.add_address_full(Gio.UnixSocketAddress.new(path),
                                                Gio.SocketType.STREAM,
                                                Gio.SocketProtocol.DEFAULT, None, settings)
    assert added
    return effective


def is_listed(name):
    """Whether /proc/net/unix lists a socket with the abstract name name."""
    with open("/proc/net/unix") as table:
        return f" @{name}\n" in table.read()


def is_root():
    return os.geteuid() == 0


class Local(unittest.TestCase):
    """A service that greets each client and keeps its connection, its accept errors and its
    refusals, with a directory of its own for its sockets."""

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="usher-python-local-")
        self.addCleanup(shutil.rmtree, self.scratch, ignore_errors=True)
        self.service = self.greeter(Usher.SocketService())
        self.addCleanup(self.service.close)

    def greeter(self, service):
        self.held = []
        self.errors = []
        self.refusals = []
        service.connect("incoming", self.greet)
        service.connect("accept-error", lambda service, error: self.errors.append(error))
        service.connect("refused", lambda service, peer, reason, error:
                        self.refusals.append((peer, reason, error)))
        return service

    def greet(self, service, connection, source_object):
        try:
            connection.get_output_stream().write_all(GREETING, None)
        except GLib.Error:
            pass  # another service's probe of whether the path is live
        self.held.append(connection)
        return False

    def path(self, name):
        return os.path.join(self.scratch, name)

    def test_the_file_has_its_mode_owner_and_group(self):
        path = self.path("service.sock")
        settings = Usher.SocketSettings(unix_mode=0o640)
        if is_root():
            settings.props.unix_owner = 65534
            settings.set_unix_group(65534)
        self.assertEqual((settings.get_unix_mode(), settings.is_set("unix-mode")), (0o640, True))
        self.assertEqual(settings.is_set("unix-owner"), is_root())
        umask = os.umask(0o077)
        try:
            effective = listen_at(self.service, path, settings)
        finally:
            os.umask(umask)
        self.assertEqual(effective.get_path(), path)
        status = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(status.st_mode))
        self.assertEqual(stat.S_IMODE(status.st_mode), 0o640)
        expected = (65534, 65534) if is_root() else (os.geteuid(), os.getegid())
        self.assertEqual((status.st_uid, status.st_gid), expected)
        self.assertEqual(visit(path), GREETING)

        # Changed while serving, the file follows at once.
        settings.props.unix_mode = 0o600
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(visit(path), GREETING)

        # Shut down, the service removes its file at once.
        self.held.clear()
        done = []
        self.service.shutdown_async(None, lambda service, result:
                                    done.append(service.shutdown_finish(result)))
        self.assertFalse(os.path.exists(path))
        iterate_until(lambda: done)
        self.assertEqual(done, [True])
        self.assertEqual(self.errors, [])

    def test_a_live_path_is_refused_a_file_untouched_and_a_stale_socket_replaced(self):
        path = self.path("service.sock")
        listen_at(self.service, path)
        second = Usher.SocketService()
        self.addCleanup(second.close)
        with self.assertRaises(GLib.Error) as raised:
            listen_at(second, path)
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.ADDRESS_IN_USE),
                        raised.exception.message)
        self.assertEqual(visit(path), GREETING, "the first still serves")

        # A regular file is never taken for a stale socket.
        regular = self.path("not-a-socket")
        with open(regular, "w") as file:
            file.write("data")
        with self.assertRaises(GLib.Error) as raised:
            listen_at(second, regular)
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.ADDRESS_IN_USE))
        with open(regular) as file:
            self.assertEqual(file.read(), "data")

        # A socket file nothing listens on any more (its process killed, say): replaced.
        stale = self.path("stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
            gone.bind(stale)
            gone.listen()
        self.assertTrue(stat.S_ISSOCK(os.stat(stale).st_mode))
        listen_at(second, stale)
        second.connect("incoming", self.greet)
        self.assertEqual(visit(stale), GREETING)
        self.assertEqual(Usher.SocketService.get_listening_socket(self.held[-1])
                         .get_local_address().get_path(), stale)
        self.assertEqual(self.errors, [])

    def test_an_abstract_name_leaves_nothing_on_disk(self):
        name = f"usher-python-local-{os.getpid()}"
        address = Gio.UnixSocketAddress.new_with_type(list(name.encode()),
                                                      Gio.UnixSocketAddressType.ABSTRACT)
        added, effective = self.service.add_address_full(
            address, Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, None,
            Usher.SocketSettings(unix_mode=0o600))
        self.assertTrue(added)
        self.assertEqual(effective.get_address_type(), Gio.UnixSocketAddressType.ABSTRACT)
        self.assertTrue(is_listed(name))
        self.assertEqual(visit("\0" + name), GREETING)
        # The connection accepted is listed with the name too.
        for connection in self.held:
            connection.close(None)
        self.service.close()
        iterate_until(lambda: not is_listed(name))
        self.assertEqual(os.listdir(self.scratch), [])
        self.assertFalse(os.path.exists(name))

    def test_accept_credentials_refuses_then_accepts(self):
        path = self.path("service.sock")
        asked = []
        answer = [False]

        def judge(service, connection, credentials):
            self.assertIsInstance(connection, Gio.SocketConnection)
            self.assertIsNone(Usher.ProxyInfo.get_for_connection(connection))
            asked.append((credentials.get_unix_pid(), credentials.get_unix_user()))
            return answer[0]

        self.service.connect("accept-credentials", judge)
        listen_at(self.service, path)
        self.assertEqual(visit(path), b"")
        iterate_until(lambda: self.refusals)
        self.assertEqual(asked, [(os.getpid(), os.getuid())])
        (peer, reason, error), = self.refusals
        self.assertIsNone(peer)
        self.assertEqual(reason, Usher.Refusal.CREDENTIALS)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED))
        self.assertIn("accept-credentials", error.message)
        self.assertIn(f"uid {os.getuid()}", error.message)
        self.assertIn(f"pid {os.getpid()}", error.message)
        self.assertEqual([each.message for each in self.errors], [error.message])
        self.assertEqual(self.service.get_n_refused(Usher.Refusal.CREDENTIALS), 1)

        answer[0] = True
        self.assertEqual(visit(path), GREETING)
        self.assertEqual(len(asked), 2)
        credentials = Usher.SocketService.get_peer_credentials(self.held[0])
        self.assertIsInstance(credentials, Gio.Credentials)
        self.assertEqual(credentials.get_unix_pid(), os.getpid())
        self.assertEqual(credentials.get_unix_user(), os.getuid())
        self.assertEqual(len(self.refusals), 1)

    def test_a_python_subclass_overrides_do_accept_credentials(self):
        class Gatekeeper(Usher.SocketService):
            def __init__(self):
                super().__init__()
                self.answer = False
                self.asked = []

            def do_accept_credentials(self, connection, credentials):
                self.asked.append(credentials.get_unix_pid())
                return self.answer

        gatekeeper = self.greeter(Gatekeeper())
        self.addCleanup(gatekeeper.close)
        path = self.path("service.sock")
        listen_at(gatekeeper, path)
        self.assertEqual(visit(path), b"")
        iterate_until(lambda: self.refusals)
        self.assertEqual(self.refusals[0][1], Usher.Refusal.CREDENTIALS)
        gatekeeper.answer = True
        self.assertEqual(visit(path), GREETING)
        self.assertEqual(gatekeeper.asked, [os.getpid(), os.getpid()])

        # A handler that refuses overrules the class handler.
        gatekeeper.connect("accept-credentials", lambda service, connection, credentials: False)
        self.assertEqual(visit(path), b"")
        iterate_until(lambda: len(self.refusals) == 2)
        self.assertEqual(len(self.held), 1)
        self.assertEqual(gatekeeper.get_n_refused(Usher.Refusal.CREDENTIALS), 2)

    def test_try_set_allowed_users(self):
        settings = Usher.SocketSettings()
        self.assertEqual(settings.props.allowed_users, [])
        self.assertTrue(settings.try_set_allowed_users(["root"]))
        self.assertEqual(settings.get_allowed_users(), ["0"])
        with self.assertRaises(GLib.Error) as raised:
            settings.try_set_allowed_users(["0", "no such user, surely"])
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertIn("no such user, surely", raised.exception.message)
        self.assertEqual(settings.props.allowed_users, ["0"])
        with self.assertRaises(GLib.Error):
            settings.try_set_allowed_groups(["no such group, surely"])
        self.assertFalse(settings.is_set("allowed-groups"))

        # This process's own client: let in as root, refused otherwise.
        path = self.path("admin.sock")
        listen_at(self.service, path, settings)
        self.assertEqual(visit(path), GREETING if is_root() else b"")
        # A group of ours lets anyone of it in.
        settings.try_set_allowed_groups([str(os.getgid())])
        self.assertEqual(visit(path), GREETING)

    def test_another_user_is_refused_by_a_root_only_socket(self):
        if not is_root():
            self.skipTest("not root: only root can run a client as another user")
        os.chmod(self.scratch, 0o755)
        root_only = Usher.SocketSettings(unix_mode=0o666)
        root_only.try_set_allowed_users(["root"])
        admin, anyone = self.path("admin.sock"), self.path("user.sock")
        listen_at(self.service, admin, root_only)
        listen_at(self.service, anyone, Usher.SocketSettings(unix_mode=0o666))

        self.assertEqual(self.as_nobody(admin), "b''")
        iterate_until(lambda: self.refusals)
        (peer, reason, error), = self.refusals
        self.assertEqual((peer, reason), (None, Usher.Refusal.CREDENTIALS))
        self.assertIn("uid 65534", error.message)
        self.assertEqual(self.as_nobody(anyone), repr(GREETING))
        self.assertEqual(visit(admin), GREETING)

    def as_nobody(self, path):
        """What python3 run as user and group 65534 reads first from the socket at path."""
        script = ("import socket, sys\n"
                  "c = socket.socket(socket.AF_UNIX)\n"
                  "c.connect(sys.argv[1])\n"
                  "try:\n"
                  "    print(repr(c.recv(64)))\n"
                  "except ConnectionResetError:\n"
                  "    print(repr(b''))\n")
        child = run_in_thread(lambda: subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-c", script, path], capture_output=True, text=True, timeout=DEADLINE))
        self.assertEqual(child.returncode, 0, child.stderr)
        return child.stdout.strip()

    def test_an_invalid_user_through_the_property_is_a_critical(self):
        # In a child without G_DEBUG=fatal-warnings, for the critical not to abort it.
        env = {name: value for name, value in os.environ.items() if name != "G_DEBUG"}
        child = subprocess.run([sys.executable, __file__, "--invalid-user"], env=env,
                               capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(child.returncode, 0, child.stderr[:1000])
        self.assertEqual(child.stdout, "['0']\n")
        self.assertIn("CRITICAL", child.stderr)
        self.assertIn("allowed-users", child.stderr)
        self.assertIn("no such user, surely", child.stderr)

    def test_peer_credentials_of_a_tcp_connection_fail(self):
        # Documented: "Fails for a connection without credentials (TCP)". Fails now: Linux's
        # SO_PEERCRED answers a TCP socket with uid -1, and that is returned.
        port = listen_loopback(self.service)
        client = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.addCleanup(client.close)
        iterate_until(lambda: self.held)
        try:
            credentials = Usher.SocketService.get_peer_credentials(self.held[0])
        except GLib.Error:
            return
        self.fail(f"credentials of a TCP connection: {credentials.to_string()}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--invalid-user"]:
        settings = Usher.SocketSettings(allowed_users=["root"])
        settings.props.allowed_users = ["no such user, surely"]
        print(settings.props.allowed_users)
    else:
        unittest.main(verbosity=2)
