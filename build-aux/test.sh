#!/bin/bash
# Runs every test of Usher on a Debian 12 machine with Rust and gcc: lints, the Rust tests
# (unit, integration, doc), then, through meson, the C, Vala, Python and gjs tests against
# the built libusher-1.so, the C API reference (gi-docgen, warnings fatal), a check of what
# `meson install` installs, and finally the release tarball, built and tested with no network
# (test-tarball.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

build-aux/install-deps.sh

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# A build directory of its own: `build/` is the user's, for README's `meson setup build --prefix=…`.
builddir=${USHER_BUILDDIR:-$PWD/_build-test}

step() { printf '\n=== %s\n' "$*"; }

if cargo fmt --version >/dev/null 2>&1; then
    step "cargo fmt --check"
    cargo fmt --all -- --check
fi
if cargo clippy --version >/dev/null 2>&1; then
    step "cargo clippy"
    cargo clippy --all-targets --all-features -- -D warnings
fi

step "cargo test"
cargo test

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features

step "meson: build libusher-1.so, the GIR, typelib, vapi and the C API reference"
options=(-Dcargo_target_dir="$CARGO_TARGET_DIR" -Ddocs=true)
if [ -f "$builddir/build.ninja" ]; then
    meson setup --reconfigure "$builddir" "${options[@]}"
else
    meson setup "$builddir" "${options[@]}"
fi
meson compile -C "$builddir"

step "meson: a second build has nothing to do"
second=$(meson compile -C "$builddir")
if ! grep -q 'ninja: no work to do' <<<"$second"; then
    echo "$second"
    echo "a build with nothing changed did some work" >&2
    exit 1
fi

step "meson test: C, Vala, Python and gjs"
meson test -C "$builddir" --print-errorlogs
# GLib's own tests skip where they cannot fetch GLib's sources (no network): here, with the
# network cargo and apt-get need anyway, a skip would hide that they did not run.
skipped=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    test = json.loads(line)
    if test["result"] == "SKIP":
        print(test["name"], test["stdout"].strip())' "$builddir/meson-logs/testlog.json")
[ -z "$skipped" ] || { echo "skipped, with network: $skipped" >&2 && exit 1; }

step "meson install, and a C and a Vala program built against the installed files"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$builddir" --destdir "$stage" --quiet
build-aux/check-install.sh "$stage"

step "the release tarball (meson dist) builds and passes its tests with no network"
build-aux/test-tarball.sh

step "All tests passed"
