#!/bin/bash
# Runs README's test command, build-aux/test.sh, unchanged, as root in a chroot of another
# Debian release, so that Usher is tested against that release's GLib, PyGObject, gjs and
# gobject-introspection, not only Debian 12's.
#
#   test-in-debian.sh sid|trixie
#
# The root is made with debootstrap from Debian's archive and holds only Debian's packages:
# what build-aux/install-deps.sh installs, and for sid Debian's own rustc, cargo, clippy and
# rustfmt. Trixie's rustc (1.85) is older than Usher needs (1.92): there the host's Rust
# (rustup's, `rustc --print sysroot`) is bind-mounted read-only into the root instead.
#
# Everything kept between runs is under $USHER_DEBIAN_CACHE (default /var/cache/usher-debian),
# per release: root/ (the debootstrapped root, refreshed with apt-get at each run),
# cargo-home/ (cargo's registry and downloaded crates) and target/ (cargo's target directory),
# so that a second run skips debootstrap and rebuilds only what changed (the target directory
# keeps the builds of tests/consumers/ too). Delete a release's directory to start over. The
# checkout (its files as git lists them, without .git, target/ and build directories) is copied
# afresh into the root at each run, and ../shared/consumers, which holds the release archives
# tests/consumers/ may need, is mounted beside it.
#
# Needs root on a Debian host (it installs debootstrap if missing), and the network to Debian's
# archive (USHER_DEBIAN_MIRROR, default http://deb.debian.org/debian) and to crates.io.
# Prints the time of each stage.
set -euo pipefail

suite=${1:?usage: $0 sid|trixie}
case $suite in
    sid | trixie) ;;
    *) echo "$0: unsupported release '$suite' (sid or trixie)" >&2 && exit 2 ;;
esac
source_root=$(cd "$(dirname "$0")/.." && pwd)
cache=${USHER_DEBIAN_CACHE:-/var/cache/usher-debian}/$suite
mirror=${USHER_DEBIAN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (debootstrap, mount, chroot)" >&2 && exit 1; }

# Run in private mount and PID namespaces: whatever happens to this script (a failed test, a
# signal, even SIGKILL), the kernel drops its mounts and ends every process the tests left
# running when it ends. The trap below still unmounts in order on every normal exit.
if [ "${USHER_IN_NAMESPACE:-}" != "$suite" ]; then
    USHER_IN_NAMESPACE=$suite exec unshare --mount --propagation private --pid --fork \
        --kill-child "$0" "$@"
fi

stage_start=$SECONDS
stage() {
    echo "=== [$suite] $1: $((SECONDS - stage_start)) s" >&2
    stage_start=$SECONDS
}

mkdir -p "$cache/cargo-home" "$cache/target"
root=$cache/root

# Root creation: only when there is no complete root; a root that debootstrap did not finish
# stays in root.partial and is removed by the next run.
if [ ! -f "$root/etc/usher-root-complete" ]; then
    if ! command -v debootstrap >/dev/null; then # the host is Debian too
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    fi
    rm -rf "$root" "$cache/root.partial"
    debootstrap --variant=minbase --include=ca-certificates "$suite" "$cache/root.partial" \
        "$mirror"
    # Debian's mirrors may serve a snapshot, whose Release files are past their Valid-Until;
    # the signatures and hashes are still checked.
    echo 'Acquire::Check-Valid-Until "false";' \
        >"$cache/root.partial/etc/apt/apt.conf.d/99usher-snapshot-mirror"
    touch "$cache/root.partial/etc/usher-root-complete"
    mv "$cache/root.partial" "$root"
    stage "root creation (debootstrap $suite)"
fi

# Mounts for the chroot, undone in reverse order on every exit.
mounted=()
unmount_all() {
    local i
    # First end what the tests left running, which may hold a mount busy: this script is the
    # init of its own PID namespace, where kill -1 reaches its descendants and nothing else.
    if [ $$ -eq 1 ]; then
        kill -KILL -1 2>/dev/null || true
        wait
    fi
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[i]}" || echo "$0: cannot unmount ${mounted[i]}" >&2
    done
}
trap unmount_all EXIT
mount_at() { # mount_at TARGET MOUNT-ARGUMENTS...
    local target=$root$1
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted+=("$target")
}
mount_at /proc -t proc proc
mount_at /sys -t sysfs sysfs
mount_at /dev --rbind /dev # with /dev/pts and /dev/shm
mount_at /tmp -t tmpfs tmpfs
mount_at /run -t tmpfs tmpfs
mount_at /var/cache/usher/cargo-home --bind "$cache/cargo-home"
mount_at /var/cache/usher/target --bind "$cache/target"
# The release archives of the programs whose tests tests/consumers/ runs, where the tests look
# for them, beside the checkout (/usher), read-only; without them the tests take what Debian's
# mirror serves.
consumers=$source_root/../shared/consumers
if [ -d "$consumers" ]; then
    mount_at /shared/consumers --bind "$consumers"
    mount -o remount,bind,ro "$root/shared/consumers"
fi
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rust_packages=(rustc cargo rust-clippy rustfmt)
if [ "$suite" = trixie ]; then
    # Trixie's rustc is too old: the host's toolchain, read-only, first on PATH.
    command -v rustc >/dev/null ||
        { echo "$0: trixie needs the host's Rust ≥ 1.92 (rustup): no rustc" >&2 && exit 1; }
    sysroot=$(rustc --print sysroot)
    mount_at /opt/rust --bind "$sysroot"
    mount -o remount,bind,ro "$root/opt/rust"
    path=/opt/rust/bin:$path
    rust_packages=()
fi
# The chroot shares the host's network: its resolver, and the CA certificates the host's
# administrator added (a TLS-inspecting proxy's, say), which cargo needs to reach crates.io.
cp /etc/resolv.conf "$root/etc/resolv.conf"
rm -rf "$root/usr/local/share/ca-certificates"
mkdir -p "$root/usr/local/share/ca-certificates"
if [ -d /usr/local/share/ca-certificates ]; then
    cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

# USHER_IN_DEBIAN_ROOT lets test-tarball.sh skip, saying so, where the root cannot make a network
# namespace; on the machine itself it must.
in_root() {
    chroot "$root" /usr/bin/env -i PATH="$path" HOME=/root LANG=C.UTF-8 TERM=dumb \
        DEBIAN_FRONTEND=noninteractive CARGO_HOME=/var/cache/usher/cargo-home \
        CARGO_TARGET_DIR=/var/cache/usher/target USHER_IN_DEBIAN_ROOT="$suite" "$@"
}

# The checkout, as git lists it (with uncommitted changes; files deleted in the work tree are
# skipped), without .git: nothing in the tests needs it.
rm -rf "$root/usher"
mkdir "$root/usher"
git -C "$source_root" ls-files -z --cached --others --exclude-standard |
    tar -C "$source_root" --null --ignore-failed-read -T - -cf - |
    tar -C "$root/usher" -xf -

# Package install: a cached root is brought up to date, then Rust and Usher's dependencies.
in_root apt-get update -qq
in_root apt-get -y -qq -o Dpkg::Options::=--force-confold dist-upgrade
if [ ${#rust_packages[@]} -gt 0 ]; then
    in_root apt-get install -y -qq --no-install-recommends "${rust_packages[@]}"
fi
in_root /usher/build-aux/install-deps.sh
in_root update-ca-certificates >/dev/null
stage "package install"
in_root sh -c 'rustc --version && cargo --version && pkg-config --modversion gio-2.0' >&2

# README's test command, unchanged. Not through a pipe: a process a test leaves behind would
# hold the pipe open and the run with it (the PID namespace ends it once this script exits).
in_root /usher/build-aux/test.sh
stage "build-aux/test.sh"
