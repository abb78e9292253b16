"""What the Python tests share: a loopback listener, waiting on the default main context for an
event (with a deadline that fails the test instead of hanging), a client reading to the end,
running a function on a thread, and a server started by systemd-socket-activate. The tests run
as scripts from this directory, which is thus on sys.path: `import common` finds this module."""

import os
import socket
import subprocess
import sys
import threading

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

DEADLINE = 30


def listen_loopback(listener, tag=None):
    """Listens on 127.0.0.1 with an ephemeral port, tagged with tag; returns the port."""
    any_port = Gio.InetSocketAddress.new_from_string("127.0.0.1", 0)
    result = listener.add_address(any_port, Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, tag)
    effective = result[-1] if isinstance(result, tuple) else result
    return effective.get_port()


def add_loopback_address(service, settings, protocol=Gio.SocketProtocol.TCP):
    """Listens on 127.0.0.1 with an ephemeral port with add_address_full() and settings; returns
    the port."""
    any_port = Gio.InetSocketAddress.new_from_string("127.0.0.1", 0)
    added, effective = service.add_address_full(any_port, Gio.SocketType.STREAM, protocol, None,
                                                settings)
    assert added
    return effective.get_port()


def serve(test, service):
    """Listens with service on 127.0.0.1 with an ephemeral port, and closes it when test (a
    unittest.TestCase) ends; returns the port."""
    port = listen_loopback(service)
    test.addCleanup(service.close)
    return port


def iterate_until(done, deadline=DEADLINE):
    """Iterates the default main context until done(); fails after deadline seconds."""
    context = GLib.MainContext.default()
    expired = []

    def expire():
        expired.append(True)
        return GLib.SOURCE_REMOVE

    timeout = GLib.timeout_add_seconds(deadline, expire)
    try:
        while not done():
            if expired:
                raise AssertionError("timed out waiting for an event")
            context.iteration(True)
    finally:
        if not expired:
            GLib.source_remove(timeout)


def read_to_end(client):
    """What a client (a Python socket) receives until the server closes the connection."""
    received = b""
    try:
        while chunk := client.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def in_thread(function):
    """Runs function on a (daemon) thread, waking the main context when it is done. Returns the
    thread and the outcome, which gets "done", and "value" or "error"."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:  # reported by the waiting test
            outcome["error"] = error
        finally:
            outcome["done"] = True
            GLib.MainContext.default().wakeup()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def run_in_thread(function):
    """Runs function on a thread while iterating the main context; returns its value."""
    _, outcome = in_thread(function)
    iterate_until(lambda: "done" in outcome)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def answer_first_client(service, reply):
    """Runs a main loop until service hands out its first connection, and answers it with the
    line reply(connection, source_object)."""
    loop = GLib.MainLoop()

    def incoming(service, connection, source_object):
        connection.get_output_stream().write_all(reply(connection, source_object).encode(), None)
        GLib.idle_add(loop.quit)
        return False

    service.connect("incoming", incoming)
    loop.run()


def activated(script, *args):
    """Runs `python3 script ARGS…` under systemd-socket-activate, listening for it on a free port
    of 127.0.0.1 as the socket named "web", with what the tests' environment sets for it
    (GI_TYPELIB_PATH, LD_LIBRARY_PATH, G_DEBUG) passed on; a client connects once the socket
    listens. Returns the line the client read, the launcher's exit status (its child's), and
    what it wrote on stdout and stderr."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    # The launcher gives its child a clean environment but for what -E passes on.
    passed = [arg for name in ("GI_TYPELIB_PATH", "LD_LIBRARY_PATH", "G_DEBUG")
              if name in os.environ for arg in ("-E", name)]
    launcher = subprocess.Popen(
        ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--fdname=web", *passed,
         sys.executable, script, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while "Listening on" not in launcher.stderr.readline():
            if launcher.poll() is not None:
                raise AssertionError("systemd-socket-activate ended")
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
            reply = client.makefile().readline()
        stdout, stderr = launcher.communicate(timeout=DEADLINE)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        launcher.stdout.close()
        launcher.stderr.close()
    return reply, launcher.returncode, stdout, stderr
