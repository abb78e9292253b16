#!/usr/bin/env python3
"""Writes Usher's Flatpak manifests for one release tarball, with its sha256.

Usage: for-tarball.py TARBALL OUTPUT_DIR [URL]

Writes OUTPUT_DIR/usher.json, the module an application adds to its manifest, and
OUTPUT_DIR/org.example.UsherEcho.json, the echo demo's manifest, which includes it: the files of
build-aux/flatpak/ with each source that names the tarball (`"path": "usher-VERSION.tar.xz"`)
naming TARBALL with its sha256, by URL when one is given (where the release is published), else
by its path from OUTPUT_DIR. The committed files name the tarball by file name only, without a
checksum: a tarball's sha256 cannot be known before it is made, and a file cannot hold its own
tarball's checksum.
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFESTS = ["usher.json", "org.example.UsherEcho.json"]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def modules(manifest):
    """The manifest itself if it is a module, and every module it holds inline."""
    yield manifest
    for module in manifest.get("modules", []):
        if isinstance(module, dict):
            yield from modules(module)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[2])
    tarball, output = sys.argv[1], sys.argv[2]
    url = sys.argv[3] if len(sys.argv) == 4 else None
    name = os.path.basename(tarball)
    source = {"type": "archive"}
    if url:
        source["url"] = url
    else:
        source["path"] = os.path.relpath(tarball, output)
    source["sha256"] = sha256(tarball)

    os.makedirs(output, exist_ok=True)
    for file in MANIFESTS:
        with open(os.path.join(HERE, file)) as f:
            manifest = json.load(f)
        replaced = 0
        for module in modules(manifest):
            sources = module.get("sources", [])
            for i, old in enumerate(sources):
                if old.get("type") != "archive":
                    continue
                # The committed files name the tarball of the project's version: a tarball of
                # another version means they were not updated with the version.
                if old.get("path") != name:
                    sys.exit(f"{file} names {old.get('path') or old.get('url')}, not {name}: "
                             "update build-aux/flatpak/ with the version")
                sources[i] = dict(source)
                replaced += 1
        if not replaced:
            sys.exit(f"{file} has no source naming {name}")
        with open(os.path.join(output, file), "w") as f:
            json.dump(manifest, f, indent=4)
            f.write("\n")


if __name__ == "__main__":
    main()
