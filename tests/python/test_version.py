#!/usr/bin/python3
"""The library's version through PyGObject: Usher.get_major_version() and the others say the
version meson built (USHER_VERSION, from tests/meson.build), and Usher.check_version() follows
Gtk.check_version(): None when compatible, else why not."""

import os
import unittest

import gi

gi.require_version("Usher", "1")
from gi.repository import Usher  # noqa: E402


class VersionTest(unittest.TestCase):
    def setUp(self):
        self.version = tuple(int(part) for part in os.environ["USHER_VERSION"].split("."))

    def test_version_is_the_built_one(self):
        self.assertEqual((Usher.get_major_version(), Usher.get_minor_version(),
                          Usher.get_micro_version()), self.version)

    def test_check_version(self):
        major, minor, micro = self.version
        self.assertIsNone(Usher.check_version(major, minor, micro))
        self.assertIsNone(Usher.check_version(0, 2, 0))
        self.assertEqual(Usher.check_version(major, minor, micro + 1),
                         "Usher version too old (micro mismatch)")
        self.assertEqual(Usher.check_version(major, minor + 1, 0),
                         "Usher version too old (micro mismatch)")
        self.assertEqual(Usher.check_version(major + 1, 0, 0),
                         "Usher version too old (major mismatch)")


if __name__ == "__main__":
    unittest.main()
