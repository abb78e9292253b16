#!/usr/bin/python3
"""Socket activation through PyGObject: add_activated_sockets() with a Python callback that
tags each socket by its name, in a server started by systemd-socket-activate."""

import os
import subprocess
import sys
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import GObject, Usher  # noqa: E402

from common import DEADLINE, activated, answer_first_client  # noqa: E402


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
    answer_first_client(service, lambda connection, tag: f"{tag.name}\n")


class Activation(unittest.TestCase):
    def test_an_activated_socket_is_tagged_by_its_name(self):
        reply, status, stdout, _ = activated(__file__, "--serve")
        self.assertEqual(reply, "web\n")
        self.assertEqual(status, 0)
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
