#!/bin/sh
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
# programs' own output goes to stderr.
set -eu

program_name=$1 workdir=$2 includedirs=$3 libdir=$4
shift 4 # the rest is the C compiler
timeout=${GLIB_TEST_TIMEOUT:-30}

case $program_name in
    socket-service | socket-listener) files=gio/tests/$program_name.c ;;
    # Its connect()s are slowed by a preloaded library, as GLib's meson.build runs it.
    gsocketclient-slow) files="gio/tests/$program_name.c gio/tests/slow-connect-preload.c" ;;
    *) echo "Bail out! unknown program $program_name" && exit 1 ;;
esac

die() {
    echo "Bail out! $*"
    echo "$0: error: $*" >&2
    exit 1
}

# Puts GLib's gio/tests/*.c, from Debian's glib2.0 source package $1 (or the newest older one
# on the mirror) with Debian's patches to $files, in directory $2, with the version used in $2/version. Run it in a subshell:
# it exits at the first error.
fetch() {
    version=$1 dest=$2
    apt=$workdir/apt
    rm -rf "$apt" && mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
    for list in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        if [ -f "$list" ]; then sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$list"; fi
    done >"$apt/sources.list.d/src.list"
    for sources in /etc/apt/sources.list.d/*.sources; do
        if [ -f "$sources" ]; then sed 's/^Types:.*/Types: deb-src/' "$sources" && echo; fi
    done >"$apt/sources.list.d/src.sources"

    # A mirror may serve a snapshot whose Release files are past their Valid-Until (sid's
    # can be); the signatures and the files' hashes are still checked.
    set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/sources.list.d" \
        -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
        -o APT::Sandbox::User="$(id -un)" -o Acquire::Check-Valid-Until=false
    # A source without deb-src fails here but the others may serve: apt-get source decides.
    # apt-get update succeeds with warnings when it reaches no mirror: with no source index
    # and a failure to resolve or connect, there is no network (a Flatpak or distribution
    # builder, `unshare -n`): exit 77, which the caller reports as a skip, not a failure.
    update_log=$apt/update.log
    if apt-get "$@" update >"$update_log" 2>&1; then status=0; else status=$?; fi
    cat "$update_log" >&2
    [ $status -eq 0 ] || echo "$0: apt-get update failed; trying anyway" >&2
    unreachable='Temporary failure resolving|Could not resolve|Could not connect|Network is unreachable|No route to host|Connection timed out|Connection refused'
    if ! ls "$apt/lists/"*Sources* >/dev/null 2>&1 &&
        grep -m 1 -oE "($unreachable)[^]]*" "$update_log" >"$workdir/no-network"; then
        exit 77
    fi
    cd "$apt"
    used=
    # The installed version, else the older ones the mirror lists, newest first.
    for candidate in "$version" $(apt-cache "$@" showsrc glib2.0 | sed -n 's/^Version: //p' |
        sort -ur | while read -r older; do
            ! dpkg --compare-versions "$older" lt "$version" || echo "$older"
        done | sort -Vr); do
        if apt-get "$@" source --download-only "glib2.0=$candidate" >&2; then
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

# skip REASON: a TAP plan of no tests, which meson reports as a skip with the reason (under
# protocol 'tap', meson counts any exit status but 0 as an error, 77 included).
skip() {
    echo "1..0 # SKIP $*"
    echo "$0: skipped: $*" >&2
    exit 0
}

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
! grep -qi usher "$source" || die "GLib's $program_name.c already says usher: cannot check the renames"
sed -E \
    -e 's/\bG(Threaded)?SocketService(Class)?\b/Usher\1SocketService\2/g' \
    -e 's/\bg_(threaded_)?socket_service_/usher_\1socket_service_/g' \
    -e 's/\bG_TYPE_(THREADED_)?SOCKET_SERVICE\b/USHER_TYPE_\1SOCKET_SERVICE/g' \
    -e 's/\bG_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/USHER_\1\2SOCKET_SERVICE\3/g' \
    -e 's|^#include <gio/gio.h>$|&\n#include <usher/usher.h>|' \
    "$source" >"$renamed"
# Renaming back gives GLib's file again: nothing but names changed.
sed -E \
    -e 's/\bUsher(Threaded)?SocketService(Class)?\b/G\1SocketService\2/g' \
    -e 's/\busher_(threaded_)?socket_service_/g_\1socket_service_/g' \
    -e 's/\bUSHER_TYPE_(THREADED_)?SOCKET_SERVICE\b/G_TYPE_\1SOCKET_SERVICE/g' \
    -e 's/\bUSHER_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/G_\1\2SOCKET_SERVICE\3/g' \
    -e '\|^#include <usher/usher.h>$|d' \
    "$renamed" | cmp -s - "$source" || die "the renames changed more than names"
grep -q '^#include <usher/usher.h>$' "$renamed" || die "no #include <usher/usher.h>"
renames=$(diff "$source" "$renamed" | grep -c '^>') || true
# Another version's file may not use GSocketService at all: then the two builds test the same.
[ "$renames" -gt 1 ] || echo "$0: warning: $program_name.c of GLib $source_version does not use GSocketService" >&2
echo "$0: $renames lines renamed" >&2
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

# list PROGRAM: its tests' paths; `-l` prints them bare on GLib 2.74, as `# PATH` on 2.90.
list() { "$1" -l | sed -n 's|^\(# \)\{0,1\}/|/|p'; }
tests=$(list "$glib_program") || die "$glib_program -l failed"
[ -n "$tests" ] || die "$glib_program lists no tests"
[ "$(list "$usher_program")" = "$tests" ] || die "the two builds list different tests"
echo "1..$((2 * ($(echo "$tests" | wc -l) + 1)))"

# run PROGRAM [-p TEST]: runs it with the timeout, its output to $log; prints why it failed.
log=$build/run.log
run() {
    if env ${preload:+LD_PRELOAD="$preload"} timeout -k 5 "$timeout" "$@" >"$log" 2>&1; then
        status=0
    else
        status=$?
    fi
    cat "$log" >&2
    [ $status -ne 0 ] || return 0
    last=$(grep -E '^(not )?ok ' "$log" | tail -n 1) || true
    why=$(grep -m 1 -E '^Bail out!|ERROR:' "$log" | tr -d '#') || true # a # starts a TAP directive
    case $status in
        124 | 137) echo "timed out after $timeout s after '${last:-nothing}'" ;;
        *) echo "exit status $status after '${last:-nothing}': $why" ;;
    esac
    return 1
}

n=0
# First as GLib runs it, every test in one process, which also catches what a test leaves
# behind for the next ones (a callback still due on the main context, say); then each alone.
for test in "" $tests; do
    name=${test:-all tests in one process}
    echo "$0: running $program_name ${test:+-p $test}" >&2
    n=$((n + 1))
    todo=
    if why=$(run "$glib_program" ${test:+-p "$test"}); then
        echo "ok $n GLib $glib: $name$origin"
    else
        todo=" # TODO fails on GLib $glib itself"
        echo "not ok $n GLib $glib: $name$origin - $why$todo"
    fi
    n=$((n + 1))
    if why=$(run "$usher_program" ${test:+-p "$test"}); then
        echo "ok $n Usher: $name$origin${todo:+ (fails on GLib $glib itself)}"
    else
        echo "not ok $n Usher: $name$origin - $why$todo"
    fi
done
