#!/bin/sh
# meson dist script: puts the crates of Cargo.lock in the tarball, with the cargo configuration
# that builds from them, so that the tarball builds and runs its tests with no network (Flatpak
# and distribution builders have none).
#
# Usage (meson runs it, with MESON_PROJECT_DIST_ROOT set): dist-vendor.sh CARGO
#
# Every crate of Cargo.lock is vendored: the runtime dependencies, and those of the tests and
# the benchmark, so that `meson test` and `cargo test --offline` run from the tarball too
# (cargo vendor has no way to leave dev-dependencies out). --locked: the tarball builds the
# versions the checkout was tested with. Set CARGO_NET_OFFLINE=true to vendor from cargo's own
# cache, as the CI test does.
set -eu

cargo=$1
dist=${MESON_PROJECT_DIST_ROOT:?$0 is run by meson dist}
cd "$dist"
if [ -e vendor ] || [ -e .cargo ]; then
    echo "$0: the checkout has vendor/ or .cargo/ committed: the tarball would mix them" >&2
    exit 1
fi
mkdir .cargo
# A relative directory, so that cargo vendor writes `directory = "vendor"`: the tarball builds
# wherever it is unpacked (cargo reads it relative to the directory holding .cargo/).
"$cargo" vendor --locked vendor >.cargo/config.toml
grep -qx 'directory = "vendor"' .cargo/config.toml || {
    echo "$0: unexpected cargo configuration from cargo vendor:" >&2
    cat .cargo/config.toml >&2
    exit 1
}
