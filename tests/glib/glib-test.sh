#!/bin/bash
# Runs one of GLib's own test programs of gio/tests against Usher, with GLib itself as the
# control.
#
#   glib-test.sh PROGRAM WORKDIR USHER_INCLUDEDIRS USHER_LIBDIR CC...
#
# PROGRAM is socket-service, socket-listener or gsocketclient-slow: the programs of
# gio/tests that use GSocketService. USHER_INCLUDEDIRS is a colon-separated list (the source
# tree's headers, the generated ones).
#
# The program is taken from Debian's source package of the installed GLib (the upstream
# tarball, plus Debian's patches if any touch it), with a private apt configuration that
# turns the machine's apt sources into deb-src ones, so the system's apt state is left
# alone. It is fetched, not committed, because it is GLib's file, not ours, and because it
# must match the installed GLib. Where the mirror has the installed version's binaries but
# not its source (a snapshot of sid can), the newest older source on the mirror is used and
# every TAP line names it. The fetched files are cached in WORKDIR, per GLib version, so
# reruns do not download them again. With no network and nothing cached (a Flatpak or
# distribution builder, a release tarball's test in `unshare -n`), the program is skipped, with
# the reason: a TAP plan of no tests, which meson reports as SKIP.
#
# The file is built twice: untouched against GLib, the control; and changed by renames only
# (GSocketService to UsherSocketService, g_socket_service_start to usher_socket_service_start,
# and so on, plus an `#include <usher/usher.h>`), which the script checks by renaming back,
# against libusher-1. Each build runs first as GLib runs it, all tests in one process, then
# once per test (`-p PATH`), so that a crash in one does not hide the others, each run with a
# timeout ($GLIB_TEST_TIMEOUT seconds, default 30) against hangs. A test that fails on GLib
# itself is reported as TODO (`not ok … # TODO fails on GLib X itself`), for Usher too, and
# does not fail the suite; one that passes on GLib must pass on Usher. The results are TAP
# on stdout (the exit status is 0 once they are: meson reads the failures from the TAP); the
# programs' own output goes to stderr. The functions it shares with tests/consumers/ are in
# tests/foreign-tests.sh.
set -euo pipefail
# shellcheck source=tests/foreign-tests.sh
source "$(dirname "$0")/../foreign-tests.sh"

program_name=$1 workdir=$2 includedirs=$3 libdir=$4
shift 4 # the rest is the C compiler
timeout=${GLIB_TEST_TIMEOUT:-30}

case $program_name in
    socket-service | socket-listener) files=gio/tests/$program_name.c ;;
    # Its connect()s are slowed by a preloaded library, as GLib's meson.build runs it.
    gsocketclient-slow) files="gio/tests/$program_name.c gio/tests/slow-connect-preload.c" ;;
    *) echo "Bail out! unknown program $program_name" && exit 1 ;;
esac

# Puts GLib's gio/tests/*.c, from Debian's glib2.0 source package $1 (or the newest older one
# on the mirror) with Debian's patches to $files, in directory $2, with the version used in $2/version. Run it in a subshell:
# it exits at the first error.
fetch() {
    version=$1 dest=$2
    apt=$workdir/apt
    rm -rf "$apt"
    apt_source_setup "$apt"
    # No network: exit 77, which the caller reports as a skip, not a failure.
    if [ -n "$apt_no_network" ]; then
        echo "$apt_no_network" >"$workdir/no-network"
        exit 77
    fi
    cd "$apt"
    used=
    # The installed version, else the older ones the mirror lists, newest first.
    for candidate in "$version" $(apt_source_versions glib2.0 | while read -r older; do
        ! dpkg --compare-versions "$older" lt "$version" || echo "$older"
    done); do
        if apt-get "${apt_options[@]}" source --download-only "glib2.0=$candidate" >&2; then
            used=$candidate
            break
        fi
        echo "$0: glib2.0 $candidate's source is not on the mirror" >&2
    done
    [ -n "$used" ] || { echo "$0: no source of glib2.0 $version or older on the mirror" >&2 && exit 1; }
    [ "$used" = "$version" ] ||
        echo "$0: warning: using glib2.0 $used's tests on the installed glib2.0 $version" >&2

    upstream=${used%-*}
    orig=$apt/glib2.0_$upstream.orig.tar.xz
    [ -f "$orig" ] || { echo "$0: no $orig" >&2 && exit 1; }
    tree=$apt/tree
    mkdir -p "$tree"
    tar -xJf "$apt/glib2.0_${used#*:}.debian.tar.xz" -C "$tree" debian/patches
    patches=$(sed 's/#.*//; s/[[:space:]].*//; /^$/d' "$tree/debian/patches/series" |
        while read -r patch; do
            for file in $files; do
                if grep -q "^+++ [^/]*/$file" "$tree/debian/patches/$patch"; then
                    echo "$patch" && break
                fi
            done
        done)
    if [ -z "$patches" ]; then
        tar -xJf "$orig" -C "$tree" --strip-components=1 "glib-$upstream/gio/tests"
    else # the patches may touch other files too: unpack everything
        tar -xJf "$orig" -C "$tree" --strip-components=1
        for patch in $patches; do
            echo "$0: applying Debian's $patch" >&2
            patch -d "$tree" -p1 -s -i "$tree/debian/patches/$patch" >&2
        done
    fi
    mkdir -p "$dest"
    mv "$tree"/gio/tests/*.c "$dest/"
    echo "$used" >"$dest/version"
    rm -rf "$apt"
}

version=$(dpkg-query -W -f '${source:Version}\n' libglib2.0-dev | head -n 1) ||
    die "cannot tell which GLib is installed"
glib=$(pkg-config --modversion gio-2.0)
case $version in
    "$glib"-*) ;;
    *) die "libglib2.0-dev $version is not the gio-2.0 $glib in use" ;;
esac

sources=$workdir/glib2.0_$version/$program_name
mkdir -p "$workdir"
exec 9>"$workdir/fetch.lock" # the programs' runs share the cache
flock 9
# Why the fetch found no network, kept for the other programs of the same `meson test` (the
# same parent process), so that they do not wait for apt-get's retries again.
no_network=$workdir/no-network.$PPID
if [ ! -f "$sources/version" ] && [ ! -f "$no_network" ]; then
    echo "$0: fetching gio/tests from Debian's glib2.0 $version source package" >&2
    start=$(date +%s)
    set +e # not `fetch || die`, which would disable set -e inside fetch
    (set -e && fetch "$version" "$sources")
    status=$?
    set -e
    if [ $status -eq 77 ]; then
        rm -f "$workdir"/no-network.* && mv "$workdir/no-network" "$no_network"
    elif [ $status -ne 0 ]; then
        die "cannot fetch gio/tests from Debian's glib2.0 $version source package: see the messages above"
    else
        echo "$0: fetched in $(($(date +%s) - start)) s" >&2
    fi
fi
exec 9>&-
if [ ! -f "$sources/version" ] && [ -f "$no_network" ]; then
    skip "no network to fetch GLib's $program_name.c from Debian's glib2.0 $version source package ($(cat "$no_network"))"
fi
source_version=$(cat "$sources/version")
origin=
[ "$source_version" = "$version" ] || origin=" (the test file of glib2.0 $source_version)"
for file in $files; do
    [ -f "$sources/${file##*/}" ] || die "GLib $source_version has no $file"
done
source=$sources/$program_name.c

build=$workdir/$program_name
mkdir -p "$build"
# What GLib's build gives its tests: socket-listener.c mocks socket(), bind() and listen()
# through dlsym(RTLD_NEXT), where config.h says the system has it.
echo '#define HAVE_RTLD_NEXT 1' >"$build/config.h"
# Type errors are errors, so that a missed or wrong rename does not build.
strict="-Werror=implicit-function-declaration -Werror=incompatible-pointer-types -Werror=int-conversion"
preload=
if [ "$program_name" = gsocketclient-slow ]; then
    preload=$build/slow-connect-preload.so
    "$@" -shared -fPIC -o "$preload" "$sources/slow-connect-preload.c" -ldl ||
        die "cannot build slow-connect-preload.c"
fi

# The control: GLib's file, untouched, against GLib.
glib_program=$build/$program_name-on-glib
# shellcheck disable=SC2046,SC2086 # pkg-config's flags and $strict are lists
"$@" $strict -I"$build" -o "$glib_program" "$source" $(pkg-config --cflags --libs gio-2.0) -ldl ||
    die "cannot build $program_name.c against GLib"

# The same file, by renames only, against Usher.
renamed=$build/$program_name-usher.c
usher_rename "$source" "$renamed" '#include <gio/gio.h>'
# Another version's file may not use GSocketService at all: then the two builds test the same.
[ "$renamed_lines" -gt 1 ] || echo "$0: warning: $program_name.c of GLib $source_version does not use GSocketService" >&2
echo "$0: $renamed_lines lines renamed" >&2
usher_program=$build/$program_name-on-usher
includes=
old_ifs=$IFS
IFS=:
for dir in $includedirs; do includes="$includes -I$dir"; done
IFS=$old_ifs
# shellcheck disable=SC2046,SC2086 # pkg-config's flags, $strict and $includes are lists
"$@" $strict -I"$build" -o "$usher_program" "$renamed" $includes -L"$libdir" -lusher-1 \
    -Wl,-rpath,"$libdir" $(pkg-config --cflags --libs gio-2.0) -ldl ||
    die "cannot build $program_name.c against libusher-1"

tests=$(list_tests "$glib_program") || die "$glib_program -l failed"
[ -n "$tests" ] || die "$glib_program lists no tests"
[ "$(list_tests "$usher_program")" = "$tests" ] || die "the two builds list different tests"
echo "1..$((2 * ($(echo "$tests" | wc -l) + 1)))"

# run PROGRAM [-p TEST]: runs it with the timeout; prints why it failed.
run() {
    run_logged "$build/run" "$timeout" env ${preload:+LD_PRELOAD="$preload"} "$@"
}

tap_n=0
glib_label="GLib $glib"
# First as GLib runs it, every test in one process, which also catches what a test leaves
# behind for the next ones (a callback still due on the main context, say); then each alone.
for test in "" $tests; do
    name=${test:-all tests in one process}
    echo "$0: running $program_name ${test:+-p $test}" >&2
    on_glib=ok on_usher=ok
    why=$(run "$glib_program" ${test:+-p "$test"}) || on_glib="fail $why"
    why=$(run "$usher_program" ${test:+-p "$test"}) || on_usher="fail $why"
    tap_pair "$name$origin" "$on_glib" "$on_usher"
done
