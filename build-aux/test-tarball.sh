#!/bin/bash
# Tests the release tarball as Flatpak and distribution builders use it: with no network.
#
# Makes `meson dist`'s tarball from the checkout (its files as git lists them, uncommitted
# changes included, committed in a throwaway repository: meson dist archives a commit), with
# meson's own dist check; then, from the tarball unpacked afresh: meson setup
# -Dcargo_offline=true, meson compile, meson test, meson install (with the installed files
# checked by check-install.sh) and cargo test --offline. All of it, meson dist included, runs in
# a network namespace with only loopback (`unshare -n`), with an empty CARGO_HOME for the
# tarball's own builds: nothing is fetched, from crates.io or Debian. GLib's own tests, which
# fetch Debian's glib2.0 source at test time, and the real programs' (tests/consumers/), must
# report that they skipped for lack of network.
# Last, the Flatpak manifests of build-aux/flatpak/, for this tarball with its sha256, must
# pass `flatpak-builder --show-manifest` without a warning.
#
# Kept between runs, in $CARGO_TARGET_DIR/tarball-test/ (or $USHER_TARBALL_CACHE): cargo's
# target directories for the tarball's builds (target/, and target-dist/ for meson's dist
# check), emptied when Cargo.lock or rustc changes, and the last run's files (run/) for a look
# after a failure. The tarball is unpacked at the same path each time, so that cargo rebuilds
# Usher itself but not its dependencies.
#
# As root (unshare -n); otherwise in a user namespace (unshare -rn) where the kernel allows it.
# In test-in-debian.sh's root (USHER_IN_DEBIAN_ROOT set), a network namespace the machine
# refuses is reported and the test skipped; anywhere else it fails.
set -euo pipefail

source_root=$(cd "$(dirname "$0")/.." && pwd)
cache=${USHER_TARBALL_CACHE:-${CARGO_TARGET_DIR:-$source_root/target}/tarball-test}
run=$cache/run

stage_start=$SECONDS
stage() {
    echo "=== [tarball] $1: $((SECONDS - stage_start)) s" >&2
    stage_start=$SECONDS
}

# The offline part, run by this script in the network namespace (see the end).
offline() {
    ip link set lo up
    others=$(ip -o link show | awk -F': ' '$2 != "lo" { print $2 }')
    [ -z "$others" ] || { echo "$0: network interfaces in the namespace: $others" >&2 && exit 1; }
    echo "network: loopback only ($(ip -o -4 addr show lo | awk '{ print $4 }'), no route out)"

    # meson dist, and its check: the tarball is unpacked, configured with this build
    # directory's options (-Dcargo_offline=true among them), built, tested and installed.
    # cargo vendor takes the crates from cargo's cache, which `cargo fetch` filled.
    CARGO_NET_OFFLINE=true meson dist -C "$run/dist-build"
    stage "meson dist, with its check (offline)"

    dist=$run/dist-build/meson-dist
    tarball=$(echo "$dist"/usher-*.tar.xz)
    (cd "$dist" && sha256sum --quiet -c "${tarball##*/}.sha256sum")
    name=$(basename "$tarball" .tar.xz)
    tar -tJf "$tarball" "$name/.cargo/config.toml" "$name/vendor/glib/Cargo.toml" \
        "$name/vendor/proptest/Cargo.toml" >/dev/null

    # The tarball as a builder unpacks it: at a fixed path, so that cargo reuses what it built
    # last time for the dependencies; with a CARGO_HOME of its own, empty.
    src=$cache/src/$name
    rm -rf "$cache/src" "$run/build" "$run/stage" "$run/cargo-home"
    mkdir -p "$cache/src" "$run/cargo-home"
    tar -xJf "$tarball" -C "$cache/src"
    export CARGO_HOME=$run/cargo-home
    options=(-Dcargo_offline=true -Dcargo_target_dir="$cache/target" -Ddocs=true)
    meson setup "$run/build" "$src" "${options[@]}"
    meson compile -C "$run/build"
    stage "meson setup -Dcargo_offline=true, meson compile (offline)"

    meson test -C "$run/build" --print-errorlogs
    # GLib's own tests and the real programs' must have skipped, saying why, not passed from
    # some cache or failed: their sources come from Debian (and ../shared/consumers beside a
    # checkout, not in a tarball).
    python3 - "$run/build/meson-logs/testlog.json" <<'EOF'
import json, sys
tests = [json.loads(line) for line in open(sys.argv[1])]
# "usher:glib / glib-socket-service" (meson 1.0), "usher:glib-socket-service" (newer).
def short(t):
    return t["name"].rsplit(":", 1)[-1].split(" / ")[-1]
fetched = [t for t in tests if short(t).startswith(("glib-", "consumer-"))]
assert any(short(t).startswith("glib-") for t in fetched), "no GLib test ran"
assert any(short(t).startswith("consumer-") for t in fetched), "no real program's test ran"
for t in fetched:
    reason = t["stdout"].strip()
    assert t["result"] == "SKIP" and "# SKIP no network" in reason, (t["name"], t["result"], reason)
    print(f"{t['name']}: {reason}")
EOF
    stage "meson test (offline)"

    meson install -C "$run/build" --destdir "$run/stage" --quiet
    "$src/build-aux/check-install.sh" "$run/stage"
    stage "meson install (offline)"

    (cd "$src" && CARGO_TARGET_DIR=$cache/target cargo test --offline --locked)
    stage "cargo test --offline"

    # What the Flatpak manifests say about this tarball: its sha256, the offline option. The
    # GNOME runtime is not installed here, so flatpak-builder only parses them.
    "$src/build-aux/flatpak/for-tarball.py" "$tarball" "$run/flatpak"
    for manifest in "$src/build-aux/flatpak/org.example.UsherEcho.json" \
        "$run/flatpak/org.example.UsherEcho.json"; do
        # flatpak-builder only warns about an unknown property: a warning fails too.
        # In a directory of its own: flatpak-builder makes its .flatpak-builder/ where it runs.
        (cd "$run/flatpak" && flatpak-builder --show-manifest "$manifest" >shown.json 2>stderr) ||
            { cat "$run/flatpak/stderr" >&2 && exit 1; }
        if [ -s "$run/flatpak/stderr" ]; then
            cat "$run/flatpak/stderr" >&2
            echo "$0: flatpak-builder warns about $manifest" >&2
            exit 1
        fi
    done
    # The generated one, as flatpak-builder read it, with the usher.json it includes.
    python3 - "$tarball" "$run/flatpak/shown.json" <<'EOF'
import hashlib, json, sys
manifest = json.load(open(sys.argv[2]))
checksum = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
usher, echo = manifest["modules"]
assert usher["name"] == "usher" and "-Dcargo_offline=true" in usher["config-opts"], usher
for module in (usher, echo):
    assert [s["sha256"] for s in module["sources"]] == [checksum], module
print(f"Flatpak manifests: the module and the demo build {sys.argv[1].split('/')[-1]}, sha256 {checksum}")
EOF
    stage "Flatpak manifests (flatpak-builder --show-manifest)"
    echo "tarball: $tarball ($(du -h "$tarball" | cut -f1))"
}

if [ "${1:-}" = --offline ]; then
    offline
    exit
fi

# A network namespace, or why there is none.
if [ "$(id -u)" -eq 0 ]; then unshare=(unshare --net); else unshare=(unshare --map-root-user --net); fi
if ! why=$("${unshare[@]}" true 2>&1); then
    if [ -n "${USHER_IN_DEBIAN_ROOT:-}" ]; then
        echo "SKIPPED: the offline tarball test: this root cannot make a network namespace" \
            "(${unshare[*]}: $why)"
        exit 0
    fi
    echo "$0: cannot make a network namespace (${unshare[*]}: $why); run as root" >&2
    exit 1
fi

# Cargo's target directories for the tarball, kept while Cargo.lock and rustc stay the same.
key=$( (cat "$source_root/Cargo.lock" && rustc -vV) | sha256sum | cut -d' ' -f1)
for target in "$cache/target" "$cache/target-dist"; do
    if [ "$(cat "$target/key" 2>/dev/null)" != "$key" ]; then
        rm -rf "$target"
        mkdir -p "$target"
        echo "$key" >"$target/key"
    fi
done

# The crates of every platform in cargo's cache (cargo vendor wants them all), with network.
(cd "$source_root" && cargo fetch --locked --quiet)

# The checkout committed in a repository of its own: the files git lists (or, without .git,
# as in test-in-debian.sh's copy, those .gitignore does not exclude), as they are.
rm -rf "$run"
mkdir -p "$run"
export GIT_AUTHOR_NAME=test-tarball GIT_AUTHOR_EMAIL=test-tarball@localhost
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
git init --quiet --bare "$run/snapshot.git"
git --git-dir="$run/snapshot.git" --work-tree="$source_root" add --all
git --git-dir="$run/snapshot.git" --work-tree="$source_root" commit --quiet -m snapshot
git clone --quiet "$run/snapshot.git" "$run/snapshot"
# The dist check has a target directory of its own: cargo rebuilds a dependency whose vendored
# sources moved, and the check unpacks the tarball elsewhere than the test below.
meson setup "$run/dist-build" "$run/snapshot" -Dcargo_offline=true \
    -Dcargo_target_dir="$cache/target-dist" -Ddocs=true >/dev/null
stage "snapshot of the checkout, cargo fetch"

"${unshare[@]}" "$0" --offline
