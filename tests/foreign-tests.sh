# Shell functions shared by the scripts that run other projects' own tests against Usher,
# tests/glib/glib-test.sh (GLib's gio/tests) and tests/consumers/consumer-test.sh (real GNOME
# programs): their sources from Debian's archive through a private apt configuration, the
# renames from GLib's names to Usher's and the check that nothing else changed, a run with a
# timeout that says why it failed, and the TAP lines that put GLib's result beside Usher's.
# Sourced by bash scripts with `set -euo pipefail`; it defines functions and nothing else.
# shellcheck shell=bash

# die MESSAGE: TAP's bail-out, which meson reports as the test's failure, and the message on
# stderr; exits.
die() {
    echo "Bail out! $*"
    echo "$0: error: $*" >&2
    exit 1
}

# apt_source_setup DIR: a private apt configuration in DIR whose sources are the machine's apt
# sources turned into deb-src ones, so that the system's apt state is left alone; sets
# apt_options, the options that make apt-get and apt-cache use it, and updates its lists; sets
# apt_no_network to why, where there is no network (a Flatpak or distribution builder,
# `unshare -n`): apt-get update then succeeds with warnings, with no source index.
apt_source_setup() {
    local dir=$1 list sources
    mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/cache/archives/partial"
    for list in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        if [ -f "$list" ]; then sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$list"; fi
    done >"$dir/sources.list.d/src.list"
    for sources in /etc/apt/sources.list.d/*.sources; do
        if [ -f "$sources" ]; then sed 's/^Types:.*/Types: deb-src/' "$sources" && echo; fi
    done >"$dir/sources.list.d/src.sources"
    # A mirror may serve a snapshot whose Release files are past their Valid-Until (sid's
    # can be); the signatures and the files' hashes are still checked.
    apt_options=(-q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$dir/sources.list.d"
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache"
        -o APT::Sandbox::User="$(id -un)" -o Acquire::Check-Valid-Until=false)
    # A source without deb-src fails here but the others may serve: apt-get source decides.
    local log=$dir/update.log unreachable
    apt-get "${apt_options[@]}" update >"$log" 2>&1 || echo "$0: apt-get update failed; trying anyway" >>"$log"
    cat "$log" >&2
    unreachable='Temporary failure resolving|Could not resolve|Could not connect|Network is unreachable|No route to host|Connection timed out|Connection refused'
    apt_no_network=
    if ! ls "$dir/lists/"*Sources* >/dev/null 2>&1; then
        apt_no_network=$(grep -m 1 -oE "($unreachable)[^]]*" "$log") || apt_no_network=
    fi
}

# skip REASON: a TAP plan of no tests, which meson reports as a skip with the reason (under
# protocol 'tap', meson counts any exit status but 0 as an error, 77 included).
skip() {
    echo "1..0 # SKIP $*"
    echo "$0: skipped: $*" >&2
    exit 0
}

# apt_source_versions PACKAGE: the versions of source package PACKAGE that the mirror lists,
# newest first, in Debian's order of versions.
apt_source_versions() {
    local versions version sorted=() i
    versions=$(apt-cache "${apt_options[@]}" showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' |
        sort -u) || true
    for version in $versions; do # an insertion sort, newest first, with dpkg's comparison
        for ((i = ${#sorted[@]}; i > 0; i--)); do
            dpkg --compare-versions "${sorted[i - 1]}" lt "$version" || break
            sorted[i]=${sorted[i - 1]}
        done
        sorted[i]=$version
    done
    if [ ${#sorted[@]} -gt 0 ]; then printf '%s\n' "${sorted[@]}"; fi
}

# The renames from GLib's names to Usher's, and back: the types, the functions, the type, cast
# and class macros (`G_SOCKET_SERVICE (x)` in GNU style too: \b ends the name before the space).
usher_names=(
    -e 's/\bG(Threaded)?SocketService(Class)?\b/Usher\1SocketService\2/g'
    -e 's/\bg_(threaded_)?socket_service_/usher_\1socket_service_/g'
    -e 's/\bG_TYPE_(THREADED_)?SOCKET_SERVICE\b/USHER_TYPE_\1SOCKET_SERVICE/g'
    -e 's/\bG_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/USHER_\1\2SOCKET_SERVICE\3/g'
)
glib_names=(
    -e 's/\bUsher(Threaded)?SocketService(Class)?\b/G\1SocketService\2/g'
    -e 's/\busher_(threaded_)?socket_service_/g_\1socket_service_/g'
    -e 's/\bUSHER_TYPE_(THREADED_)?SOCKET_SERVICE\b/G_TYPE_\1SOCKET_SERVICE/g'
    -e 's/\bUSHER_(IS_)?(THREADED_)?SOCKET_SERVICE(_CLASS|_GET_CLASS)?\b/G_\1\2SOCKET_SERVICE\3/g'
)

# usher_rename ORIGINAL RENAMED INCLUDE: writes ORIGINAL with GLib's service renamed to
# Usher's to RENAMED, with `#include <usher/usher.h>` after the first line INCLUDE (one of
# its #include lines); checks that renaming back gives ORIGINAL again and that no name of GLib's
# service is left; sets renamed_lines to the number of lines changed.
usher_rename() {
    local original=$1 renamed=$2 include=$3 left
    ! grep -qi usher "$original" || die "$original already says usher: cannot check the renames"
    grep -qxF "$include" "$original" || die "$original has no line '$include'"
    # The include goes after the first line that is exactly $include (awk: no regex quoting).
    sed -E "${usher_names[@]}" "$original" |
        awk -v include="$include" '{ print } !done && $0 == include { print "#include <usher/usher.h>"; done = 1 }' \
            >"$renamed"
    sed -E "${glib_names[@]}" -e '\|^#include <usher/usher.h>$|d' "$renamed" | cmp -s - "$original" ||
        die "the renames of $original changed more than names"
    [ "$(grep -c '^#include <usher/usher.h>$' "$renamed")" -eq 1 ] || die "no #include <usher/usher.h>"
    left=$(grep -nE '\b(G(Threaded)?SocketService|g_(threaded_)?socket_service_|G_(TYPE_|IS_)?(THREADED_)?SOCKET_SERVICE)' \
        "$renamed") || true
    [ -z "$left" ] || die "names of GLib's service left after the renames: $left"
    # shellcheck disable=SC2034 # the result, for the caller
    renamed_lines=$(diff "$original" "$renamed" | grep -c '^>') || true
}

# run_logged LOG TIMEOUT COMMAND...: runs COMMAND with a timeout of TIMEOUT seconds, its
# stdout to LOG.out and its stderr to LOG.err (apart, so that TAP lines on stdout stay whole),
# both then copied to stderr; if it fails, prints why (how it ended, after which TAP line, with
# the first fatal message) and returns 1.
run_logged() {
    local log=$1 timeout=$2 status last why
    shift 2
    if timeout -k 5 "$timeout" "$@" >"$log.out" 2>"$log.err"; then
        status=0
    else
        status=$?
    fi
    cat "$log.out" "$log.err" >&2
    [ $status -ne 0 ] || return 0
    last=$(grep -E '^(not )?ok ' "$log.out" | grep -v '# SKIP by request' | tail -n 1) || true # not the tests skipped with -s
    why=$(cat "$log.out" "$log.err" | grep -m 1 -E '^Bail out!|ERROR:' | tr -d '#') || true # a # starts a TAP directive
    case $status in
        124 | 137) echo "timed out after $timeout s after '${last:-nothing}'" ;;
        *) echo "exit status $status after '${last:-nothing}': $why" ;;
    esac
    return 1
}

# list_tests COMMAND...: the paths of a GLib test program's tests (`-l` prints them bare on
# GLib 2.74, as `# PATH` on 2.90).
list_tests() {
    "$@" -l | sed -n 's|^\(# \)\{0,1\}/|/|p'
}

# tap_pair NAME GLIB USHER: the two TAP lines of test NAME, numbered from tap_n (which it
# advances), on GLib (labelled $glib_label) and on Usher. GLIB and USHER are each a result:
# `ok`, `skip REASON` or `fail WHY`. A test that fails on GLib itself is TODO on both lines and
# does not fail the suite; one that passes on GLib must pass on Usher (a skip there fails).
# shellcheck disable=SC2154 # glib_label is the caller's
tap_pair() {
    local name=$1 glib=$2 usher=$3 todo=
    tap_n=$((tap_n + 1))
    case $glib in
        ok) echo "ok $tap_n $glib_label: $name" ;;
        skip*) echo "ok $tap_n $glib_label: $name # SKIP ${glib#skip }" ;;
        *)
            todo=" # TODO fails on $glib_label itself"
            echo "not ok $tap_n $glib_label: $name - ${glib#fail }$todo"
            ;;
    esac
    tap_n=$((tap_n + 1))
    case $glib/$usher in
        ok/ok | skip*/ok) echo "ok $tap_n Usher: $name" ;;
        fail*/ok) echo "ok $tap_n Usher: $name (fails on $glib_label itself)" ;;
        skip*/skip*) echo "ok $tap_n Usher: $name # SKIP ${usher#skip }" ;;
        ok/skip*) echo "not ok $tap_n Usher: $name - skipped on Usher (${usher#skip }), not on $glib_label" ;;
        skip*/fail*) echo "not ok $tap_n Usher: $name - ${usher#fail } # TODO skipped on $glib_label itself" ;;
        */skip*) echo "not ok $tap_n Usher: $name - skipped (${usher#skip })$todo" ;;
        *) echo "not ok $tap_n Usher: $name - ${usher#fail }$todo" ;;
    esac
}
