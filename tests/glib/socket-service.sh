#!/bin/sh
# Runs GLib's own test program for GSocketService, gio/tests/socket-service.c, against Usher.
#
#   socket-service.sh usher|gio WORKDIR USHER_INCLUDEDIRS USHER_LIBDIR CC...
#
# USHER_INCLUDEDIRS is a colon-separated list (the source tree's headers, the generated ones).
#
# The program is taken from Debian's source package of the installed GLib (the upstream
# tarball, plus Debian's patches if any touch the file), with a private apt configuration
# that turns the machine's apt sources into deb-src ones, so the system's apt state is
# left alone. It is fetched, not committed, because it is GLib's file, not ours, and
# because it must match the installed GLib. The fetched file is cached in WORKDIR, per
# GLib version, so reruns do not download it again.
#
# With `usher`, the file is changed by renames only (GSocketService to UsherSocketService,
# g_socket_service_start to usher_socket_service_start, and so on, plus an
# `#include <usher/usher.h>`), which the script checks by renaming back, and built against
# libusher-1. With `gio`, the untouched file is built against GLib, so the harness proves
# itself. The program runs first as GLib runs it, all tests in one process, then once per
# test (`-p PATH`), so that a crash in one does not hide the others. The results are
# reported as TAP on stdout (the exit status is 0 once they are: meson reads the failures
# from the TAP); the program's own output goes to stderr.
set -eu

mode=$1 workdir=$2 includedirs=$3 libdir=$4
shift 4 # the rest is the C compiler

file=gio/tests/socket-service.c
name=${file##*/}

die() {
    echo "Bail out! $*"
    echo "$0: error: $*" >&2
    exit 1
}

# Puts GLib's $file, from Debian's glib2.0 source package $1, in directory $2. Run it in a
# subshell: it exits at the first error.
fetch() {
    version=$1 dest=$2
    upstream=${version%-*}
    apt=$workdir/apt
    rm -rf "$apt" && mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
    for list in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        if [ -f "$list" ]; then sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$list"; fi
    done >"$apt/sources.list.d/src.list"
    for sources in /etc/apt/sources.list.d/*.sources; do
        if [ -f "$sources" ]; then sed 's/^Types:.*/Types: deb-src/' "$sources" && echo; fi
    done >"$apt/sources.list.d/src.sources"

    set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/sources.list.d" \
        -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
        -o APT::Sandbox::User="$(id -un)"
    # A source without deb-src fails here but the others may serve: apt-get source decides.
    apt-get "$@" update >&2 || echo "$0: apt-get update failed; trying anyway" >&2
    cd "$apt"
    apt-get "$@" source --download-only "glib2.0=$version" >&2 || {
        echo "$0: glib2.0 $version is not on the mirror; trying its newest version" >&2
        apt-get "$@" source --download-only glib2.0 >&2
    }

    orig=$apt/glib2.0_$upstream.orig.tar.xz
    [ -f "$orig" ] || { echo "$0: no $orig" >&2 && exit 1; }
    tree=$apt/tree
    mkdir -p "$tree"
    tar -xJf "$apt"/glib2.0_*.debian.tar.xz -C "$tree" debian/patches
    patches=$(sed 's/#.*//; s/[[:space:]].*//; /^$/d' "$tree/debian/patches/series" |
        while read -r patch; do
            ! grep -q "^+++ [^/]*/$file" "$tree/debian/patches/$patch" || echo "$patch"
        done)
    if [ -z "$patches" ]; then
        tar -xJf "$orig" -C "$tree" --strip-components=1 "glib-$upstream/$file"
    else # the patches may touch other files too: unpack everything
        tar -xJf "$orig" -C "$tree" --strip-components=1
        for patch in $patches; do
            echo "$0: applying Debian's $patch" >&2
            patch -d "$tree" -p1 -s -i "$tree/debian/patches/$patch" >&2
        done
    fi
    mkdir -p "$dest"
    mv "$tree/$file" "$dest/$name"
    rm -rf "$apt"
}

version=$(dpkg-query -W -f '${source:Version}\n' libglib2.0-dev | head -n 1) ||
    die "cannot tell which GLib is installed"
case $version in
    "$(pkg-config --modversion gio-2.0)"-*) ;;
    *) die "libglib2.0-dev $version is not the gio-2.0 $(pkg-config --modversion gio-2.0) in use" ;;
esac

source=$workdir/glib2.0_$version/$name
mkdir -p "$workdir"
exec 9>"$workdir/fetch.lock" # the usher and gio runs share the cache
flock 9
if [ ! -f "$source" ]; then
    echo "$0: fetching $file from Debian's glib2.0 $version source package" >&2
    start=$(date +%s)
    set +e # not `fetch || die`, which would disable set -e inside fetch
    (set -e && fetch "$version" "${source%/*}")
    status=$?
    set -e
    [ $status -eq 0 ] ||
        die "cannot fetch $file from Debian's glib2.0 $version source package: see the messages above"
    echo "$0: fetched in $(($(date +%s) - start)) s" >&2
fi
exec 9>&-

build=$workdir/$mode
mkdir -p "$build"
program=$build/${name%.c}
# Type errors are errors, so that a missed or wrong rename does not build.
strict="-Werror=implicit-function-declaration -Werror=incompatible-pointer-types -Werror=int-conversion"
case $mode in
    usher)
        ! grep -qi usher "$source" || die "GLib's $name already says usher: cannot check the renames"
        sed -E \
            -e 's/\bG(Threaded)?SocketService(Class)?\b/Usher\1SocketService\2/g' \
            -e 's/\bg_(threaded_)?socket_service_/usher_\1socket_service_/g' \
            -e 's/\bG_TYPE_(THREADED_)?SOCKET_SERVICE\b/USHER_TYPE_\1SOCKET_SERVICE/g' \
            -e 's/\bG_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/USHER_\1\2SOCKET_SERVICE\3/g' \
            -e 's|^#include <gio/gio.h>$|&\n#include <usher/usher.h>|' \
            "$source" >"$build/$name"
        # Renaming back gives GLib's file again: nothing but names changed.
        sed -E \
            -e 's/\bUsher(Threaded)?SocketService(Class)?\b/G\1SocketService\2/g' \
            -e 's/\busher_(threaded_)?socket_service_/g_\1socket_service_/g' \
            -e 's/\bUSHER_TYPE_(THREADED_)?SOCKET_SERVICE\b/G_TYPE_\1SOCKET_SERVICE/g' \
            -e 's/\bUSHER_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/G_\1\2SOCKET_SERVICE\3/g' \
            -e '\|^#include <usher/usher.h>$|d' \
            "$build/$name" | cmp -s - "$source" || die "the renames changed more than names"
        grep -q '^#include <usher/usher.h>$' "$build/$name" || die "no #include <usher/usher.h>"
        echo "$0: $(diff "$source" "$build/$name" | grep -c '^>') lines renamed" >&2
        includes=$(printf -- '-I%s ' $(echo "$includedirs" | tr ':' ' '))
        # shellcheck disable=SC2046,SC2086 # pkg-config's flags, $strict and $includes are lists
        "$@" $strict -o "$program" "$build/$name" $includes -L"$libdir" -lusher-1 \
            -Wl,-rpath,"$libdir" $(pkg-config --cflags --libs gio-2.0) ||
            die "cannot build $name against libusher-1"
        ;;
    gio)
        # shellcheck disable=SC2046,SC2086
        "$@" $strict -o "$program" "$source" $(pkg-config --cflags --libs gio-2.0) ||
            die "cannot build $name against GLib"
        ;;
    *) die "unknown mode $mode" ;;
esac

tests=$("$program" -l | grep '^/') || die "$program lists no tests"
echo "1..$(($(echo "$tests" | wc -l) + 1))"

# First as GLib runs it: every test in one process, which also catches what a test leaves
# behind for the next ones (a callback still due on the main context, say).
echo "$0: running $program" >&2
log=$build/all.log
if "$program" >"$log" 2>&1; then
    echo "ok 1 all tests in one process"
else
    status=$?
    last=$(grep -E '^(not )?ok ' "$log" | tail -n 1)
    why=$(grep -m 1 '^Bail out!' "$log" | tr -d '#') # a # would start a TAP directive
    echo "not ok 1 all tests in one process - exit status $status after '${last:-nothing}': $why"
fi
cat "$log" >&2

# Then each alone, so that a crash in one does not hide the others.
n=1
for test in $tests; do
    n=$((n + 1))
    echo "$0: running $program -p $test" >&2
    if "$program" -p "$test" >&2; then
        echo "ok $n $test"
    else
        echo "not ok $n $test - exit status $?"
    fi
done
