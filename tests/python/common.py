"""What the Python tests share: a loopback listener, waiting on the default main context for an
event (with a deadline that fails the test instead of hanging), a client reading to the end, and
running a function on a thread. The tests run as scripts from this directory, which is thus on
sys.path: `import common` finds this module."""

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
