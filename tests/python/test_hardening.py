#!/usr/bin/python3
"""Beyond GLib, through PyGObject: fd starvation, close without stop, max-connections,
graceful shutdown with GI's async support, and start/stop hammered from threads."""

import os
import resource
import socket
import subprocess
import sys
import threading
import time
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import DEADLINE, in_thread, iterate_until, listen_loopback  # noqa: E402

FD_LIMIT = 64
CLIENTS = 300


def drain():
    while GLib.MainContext.default().iteration(False):
        pass


def serve(limit):
    """The child of the starvation test: a service limited to `limit` descriptors that keeps
    every connection until told to let them go on its standard input."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    service = Usher.SocketService()
    # No pause before the limit: what is tested is the backoff once descriptors run out.
    service.props.descriptor_margin = 0
    service.set_backlog(2 * CLIENTS)
    print(f"port {listen_loopback(service)}", flush=True)
    held = []
    releasing = []

    def incoming(service, connection, source_object):
        connection.get_output_stream().write_all(b"ok\n", None)
        if not releasing:
            held.append(connection)
        return False

    def errors_changed(service, pspec):
        if service.props.n_accept_errors == 1:
            print("starved", flush=True)

    service.connect("incoming", incoming)
    service.connect("notify::n-accept-errors", errors_changed)
    loop = GLib.MainLoop()

    def release():
        releasing.append(True)
        held.clear()
        print("released", flush=True)
        return False

    def commands():
        for command in sys.stdin:
            if command.strip() != "release":
                break
            GLib.idle_add(release)
        GLib.idle_add(loop.quit)

    threading.Thread(target=commands, daemon=True).start()
    loop.run()
    print(f"accepted {service.get_n_accepted()} errors {service.get_n_accept_errors()}", flush=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Starvation(unittest.TestCase):
    def test_a_starved_service_backs_off_and_recovers(self):
        # The child's rate-limited warnings are expected: they must not abort it.
        env = {name: value for name, value in os.environ.items() if name != "G_DEBUG"}
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(FD_LIMIT)], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            port = int(child.stdout.readline().split()[1])
            served = []
            lock = threading.Lock()

            def client():
                with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                    self.assertEqual(conn.makefile("rb").readline(), b"ok\n")
                    with lock:
                        served.append(time.monotonic())
                    done.wait(DEADLINE)

            done = threading.Event()
            clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for thread in clients:
                thread.start()
            self.assertEqual(child.stdout.readline().strip(), "starved")
            start_cpu, start = cpu_seconds(child.pid), time.monotonic()
            time.sleep(2)  # the measurement window
            cpu_share = (cpu_seconds(child.pid) - start_cpu) / (time.monotonic() - start)
            with lock:
                served_while_starved = len(served)
            released = time.monotonic()
            child.stdin.write("release\n")
            child.stdin.flush()
            self.assertEqual(child.stdout.readline().strip(), "released")
            while True:
                with lock:
                    if len(served) == CLIENTS:
                        break
                time.sleep(0.01)
                self.assertLess(time.monotonic() - released, DEADLINE)
            recovery = max(served) - released
            done.set()
            for thread in clients:
                thread.join()
            child.stdin.write("quit\n")
            child.stdin.flush()
            totals = child.stdout.readline().split()
            log = child.stderr.read()
            self.assertEqual(child.wait(timeout=DEADLINE), 0)
        finally:
            if child.poll() is None:
                child.kill()
            for pipe in (child.stdin, child.stdout, child.stderr):
                pipe.close()
        warnings = [line for line in log.splitlines() if "Usher-WARNING" in line]
        self.assertLess(served_while_starved, FD_LIMIT)
        self.assertLess(cpu_share, 0.10)
        self.assertLess(recovery, 1.0)
        self.assertEqual(int(totals[1]), CLIENTS)
        self.assertGreater(int(totals[3]), 0)
        self.assertTrue(0 < len(warnings) < 100, log)
        print(f"\n    starved: {cpu_share:.2%} of a core, {served_while_starved} served, "
              f"{totals[3]} failed accepts, {len(warnings)} warnings, recovery {recovery:.3f} s",
              file=sys.stderr)


class Hardening(unittest.TestCase):
    def test_closing_the_listener_of_an_active_service_stops_it(self):
        service = Usher.SocketService()
        errors = []
        service.connect("accept-error", lambda service, error: errors.append(error))
        port = listen_loopback(service)
        drain()
        service.close()
        iterate_until(lambda: not service.is_active())
        self.assertEqual(errors, [])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)

    def test_max_connections_leaves_a_third_client_waiting(self):
        service = Usher.SocketService(max_connections=2)
        kept = []
        service.connect("incoming", lambda s, connection, source: kept.append(connection) or False)
        port = listen_loopback(service)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        iterate_until(lambda: len(kept) == 2)
        third = socket.create_connection(("127.0.0.1", port))
        drain()
        self.assertEqual(len(kept), 2)
        self.assertEqual(service.props.n_connections, 2)
        third.setblocking(False)
        with self.assertRaises(BlockingIOError):
            third.recv(1)  # neither served nor closed

        kept.pop(0).close(None)
        iterate_until(lambda: len(kept) == 2)
        self.assertEqual(service.get_n_accepted(), 3)
        for client in clients + [third]:
            client.close()

    def test_shutdown_through_gi_async_frees_the_port_and_waits_for_connections(self):
        service = Usher.SocketService()
        kept = []
        service.connect("incoming", lambda s, connection, source: kept.append(connection) or False)
        port = listen_loopback(service)
        client = socket.create_connection(("127.0.0.1", port))
        iterate_until(lambda: len(kept) == 1)

        results = []
        service.shutdown_async(None, lambda service, result: results.append(
            service.shutdown_finish(result)))
        drain()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.assertEqual(results, [])

        kept.pop().close(None)
        iterate_until(lambda: results)
        self.assertEqual(results, [True])
        client.close()

    def test_close_connections_completes_a_pending_shutdown(self):
        service = Usher.SocketService()
        kept = []
        service.connect("incoming", lambda s, connection, source: kept.append(connection) or False)
        port = listen_loopback(service)
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
            iterate_until(lambda: len(kept) == 1)
            results = []
            service.shutdown_async(None, lambda service, result: results.append(
                service.shutdown_finish(result)))
            drain()
            service.close_connections()
            iterate_until(lambda: results)
            self.assertEqual(results, [True])
            self.assertEqual(client.recv(1), b"")

    def test_start_and_stop_hammered_from_four_threads(self):
        def descriptors():
            return sorted(os.listdir("/proc/self/fd"))

        def exchange(port, line):
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                conn.sendall(line.encode() + b"\n")
                return conn.makefile().readline()

        def run(seconds):
            service = Usher.SocketService()
            service.set_backlog(64)

            def incoming(service, connection, source_object):
                line = Gio.DataInputStream.new(connection.get_input_stream()).read_line_utf8(None)[0]
                connection.get_output_stream().write_all(line.encode() + b"\n", None)
                return False

            service.connect("incoming", incoming)
            port = listen_loopback(service)
            running = True

            def toggle():
                while running:
                    service.stop()
                    service.start()

            togglers = [threading.Thread(target=toggle) for _ in range(4)]
            for thread in togglers:
                thread.start()

            def clients():
                served, start = 0, time.monotonic()
                while True:
                    self.assertEqual(exchange(port, f"round {served}"), f"round {served}\n")
                    served += 1
                    if time.monotonic() - start >= seconds:
                        return served

            thread, outcome = in_thread(clients)
            iterate_until(lambda: outcome.get("done"))
            running = False
            for toggler in togglers:
                toggler.join()
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            self.assertTrue(service.is_active())
            self.assertEqual(service.get_n_accepted(), outcome["value"])
            service.stop()
            drain()
            return outcome["value"]

        run(0)  # GLib's process-wide descriptors
        before = descriptors()
        self.assertGreater(run(2), 0)
        self.assertEqual(descriptors(), before)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        unittest.main(verbosity=2)
