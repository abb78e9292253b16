#!/usr/bin/python3
"""Restart without dropping a client, through PyGObject: a service hands its listening socket
over to a successor process (this script, run again), which tags it by name and serves it from
then on; store_sockets() sends it to a stand-in for systemd's notify socket."""

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, GObject, Usher  # noqa: E402

from common import DEADLINE, add_loopback_address, iterate_until  # noqa: E402


class Tag(GObject.Object):
    def __init__(self, name):
        super().__init__()
        self.name = name


def abstract(name):
    return Gio.UnixSocketAddress.new_with_type(name.encode(), Gio.UnixSocketAddressType.ABSTRACT)


def named_service(name):
    """A service on 127.0.0.1 whose socket is named name; and its port."""
    service = Usher.SocketService()
    settings = Usher.SocketSettings()
    settings.props.name = name
    return service, add_loopback_address(service, settings)


def successor(name):
    """The successor: takes the sockets over, answers one client with the socket's name."""
    service = Usher.SocketService()
    added = service.take_over(abstract(name), None, lambda socket_name: Tag(socket_name))
    print(f"took over {added}", flush=True)
    loop = GLib.MainLoop()

    def incoming(service, connection, tag):
        connection.get_output_stream().write_all(f"successor {tag.name}\n".encode(), None)
        connection.close(None)
        GLib.idle_add(loop.quit)
        return False

    service.connect("incoming", incoming)
    loop.run()


class Restart(unittest.TestCase):
    def test_a_successor_takes_the_socket_over_by_name(self):
        service, port = named_service("web")
        name = f"usher-python-test-{os.getpid()}"
        outcome = {}

        def handed_over(service, result):
            try:
                outcome["handed"] = service.hand_over_finish(result)
            except GLib.Error as error:
                outcome["error"] = error

        # Listening once the call returns: the successor may start at once.
        service.hand_over_async(abstract(name), None, handed_over)
        child = subprocess.Popen([sys.executable, __file__, "--successor", name],
                                 stdout=subprocess.PIPE, text=True)
        try:
            iterate_until(lambda: outcome)
            self.assertEqual(outcome, {"handed": 1})
            done = []
            service.shutdown_async(None, lambda service, result: done.append(
                service.shutdown_finish(result)))
            iterate_until(lambda: done)
            # The successor alone serves the port now.
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
                self.assertEqual(client.makefile().readline(), "successor web\n")
            stdout, _ = child.communicate(timeout=DEADLINE)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        self.assertEqual(child.returncode, 0)
        self.assertEqual(stdout, "took over 1\n")

    def test_a_successor_that_exits_first_leaves_the_service_serving(self):
        service, _ = named_service("web")
        name = f"usher-python-test-exit-{os.getpid()}"
        outcome = {}

        def handed_over(service, result):
            try:
                outcome["handed"] = service.hand_over_finish(result)
            except GLib.Error as error:
                outcome["error"] = error

        service.hand_over_async(abstract(name), None, handed_over)
        # It connects, takes the message, and exits without a word.
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as peer:
            peer.connect("\0" + name)
            iterate_until(lambda: select_readable(peer))
            message, fds, _, _ = socket.recv_fds(peer, 4096, 4)
            self.assertEqual(message, b"usher-handover 1 1\n- web\n")
            for fd in fds:
                os.close(fd)
        iterate_until(lambda: outcome)
        self.assertTrue(outcome["error"].matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.BROKEN_PIPE))
        self.assertTrue(service.is_active())

    def test_the_sockets_go_to_the_fd_store(self):
        service, _ = named_service("web")
        name = f"usher-python-test-notify-{os.getpid()}"
        os.environ.pop("NOTIFY_SOCKET", None)
        with self.assertRaises(GLib.Error) as raised:
            service.store_sockets()
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind("\0" + name)
            os.environ["NOTIFY_SOCKET"] = "@" + name
            try:
                self.assertEqual(service.store_sockets(), 1)
            finally:
                del os.environ["NOTIFY_SOCKET"]
            message, fds, _, _ = socket.recv_fds(notify, 4096, 4)
            self.assertEqual(message, b"FDSTORE=1\nFDNAME=web\n")
            self.assertEqual(len(fds), 1)
            stored = socket.socket(fileno=fds[0])
            self.assertEqual(stored.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), 1)
            stored.close()


class TheExample(unittest.TestCase):
    def test_it_restarts_twice_on_sighup_and_refuses_no_client(self):
        example = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "..", "..", "examples", "restart.py"))
        server = subprocess.Popen([sys.executable, example, "0"], stdout=subprocess.PIPE,
                                  text=True)
        # Read as they come, on a thread: a full pipe would stop the servers' prints, and them.
        lines = []
        more = threading.Condition()

        def read_lines():
            for read in server.stdout:
                with more:
                    lines.append(read.rstrip("\n"))
                    more.notify_all()
            with more:
                lines.append(None)
                more.notify_all()

        threading.Thread(target=read_lines, daemon=True).start()

        def line(start):
            with more:
                found = more.wait_for(lambda: next(
                    (seen for seen in lines if seen is None or seen.startswith(start)), False),
                    timeout=DEADLINE)
            self.assertTrue(found, f"no line {start!r}: {lines}")
            return found

        current = server.pid
        port = int(line(f"[{current}] Listening on port ").split("port ")[1].rstrip(".\n"))
        stop = threading.Event()
        answered, failures = [], []

        def clients(thread):
            n = 0
            while not stop.is_set():
                n += 1
                text = f"py-{thread}-{n}"
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
                        c.sendall(f"{text}\n".encode())
                        reply = c.makefile().readline()
                    (answered if reply == f"{text}\n" else failures).append(text)
                except OSError as error:
                    failures.append(f"{text}: {error}")

        threads = [threading.Thread(target=clients, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        pids = [current]
        try:
            time.sleep(0.3)
            for _ in range(2):
                os.kill(current, signal.SIGHUP)
                handing = line(f"[{current}] Handing over to process ")
                successor = int(handing.split("process ")[1].rstrip(".\n"))
                line(f"[{successor}] Took over 1 sockets.")
                line(f"[{current}] Shut down:")
                pids.append(successor)
                current = successor
                time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            # Should the test fail midway: the instances the lines name that still run this
            # example (a pid whose process ended may be another program's by now).
            with more:
                named = {int(seen[1:seen.index("]")]) for seen in lines
                         if seen and seen.startswith("[")}
            for pid in named - {current}:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                        if example.encode() in cmdline.read():
                            os.kill(pid, signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            os.kill(current, signal.SIGTERM)
            line(f"[{current}] Shut down:")
            server.wait()
            with more:
                more.wait_for(lambda: lines[-1:] == [None], timeout=DEADLINE)
            server.stdout.close()
        self.assertEqual(failures, [])
        self.assertGreater(len(answered), 0)
        received = {}
        for seen in lines[:-1]:
            pid, _, text = seen.partition("] Received: ")
            if text:
                received.setdefault(text, []).append(pid)
        for text in answered:
            self.assertEqual(len(received.get(text, [])), 1, text)
        served = {pid for by in received.values() for pid in by}
        self.assertEqual(served, {f"[{pid}" for pid in pids})


def select_readable(peer):
    return bool(select.select([peer], [], [], 0)[0])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--successor"]:
        successor(sys.argv[2])
    else:
        unittest.main()
