#!/usr/bin/python3
"""Socket activation through PyGObject: add_activated_sockets() with a Python callback that
tags each socket by its name, in a server started by systemd-socket-activate."""

import os
import socket
import subprocess
import sys
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import GLib, GObject, Usher  # noqa: E402

DEADLINE = 30


class Tag(GObject.Object):
    def __init__(self, name):
        super().__init__()
        self.name = name


def serve():
    """The activated server: answers one client with the name of the socket it came in on."""
    service = Usher.SocketService()
    added = service.add_activated_sockets(lambda name: Tag(name))
    print(f"added {added}", flush=True)
    if added == 0:
        return
    loop = GLib.MainLoop()

    def incoming(service, connection, tag):
        connection.get_output_stream().write_all(f"{tag.name}\n".encode(), None)
        GLib.idle_add(loop.quit)
        return False

    service.connect("incoming", incoming)
    loop.run()


class Activation(unittest.TestCase):
    def test_an_activated_socket_is_tagged_by_its_name(self):
        probe = socket.create_server(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        # The launcher gives its child a clean environment but for what -E passes on.
        passed = [arg for name in ("GI_TYPELIB_PATH", "LD_LIBRARY_PATH") if name in os.environ
                  for arg in ("-E", name)]
        launcher = subprocess.Popen(
            ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--fdname=web", *passed,
             sys.executable, __file__, "--serve"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while "Listening on" not in launcher.stderr.readline():
                self.assertIsNone(launcher.poll(), "systemd-socket-activate ended")
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
                self.assertEqual(client.makefile().readline(), "web\n")
            stdout, _ = launcher.communicate(timeout=DEADLINE)
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
            launcher.stdout.close()
            launcher.stderr.close()
        self.assertEqual(launcher.returncode, 0)
        self.assertEqual(stdout, "added 1\n")

    def test_without_activation_nothing_is_added(self):
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("LISTEN_")}
        output = subprocess.run([sys.executable, __file__, "--serve"], env=env,
                                capture_output=True, text=True, timeout=DEADLINE, check=True)
        self.assertEqual(output.stdout, "added 0\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        unittest.main(verbosity=2)
