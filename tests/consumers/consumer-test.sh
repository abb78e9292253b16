#!/bin/bash
# Runs a real GNOME program's own tests against Usher, with GLib as the control.
#
#   consumer-test.sh CONSUMER CACHE USHER_BUILDDIR ARCHIVES CC...
#
# CONSUMER is one of:
#   glib-networking  tls/tests/connection.c, the server side of its TLS tests, run as meson
#                    runs them: connection-gnutls and connection-gnutls-tls1.2
#   xdg-dbus-proxy   flatpak-proxy.c, a C subclass of the service; tests/test-proxy.c, which
#                    starts a dbus-daemon and the proxy
#   gcr              gcr/gcr-ssh-agent-service.c, a threaded service run on a thread's own
#                    context; gcr/test-ssh-agent-service.c, with a real ssh-agent
# CACHE keeps the sources and the builds between runs (tests/meson.build gives the consumers/
# directory of cargo's target directory); USHER_BUILDDIR is Usher's meson build directory,
# whose uninstalled usher-1.pc the renamed build finds libusher-1 with; ARCHIVES holds the
# consumers' release archives (../shared/consumers beside the checkout); CC... the C compiler.
#
# The consumer's source is its Debian source package of the newest version this machine's apt
# sources list (`apt-get source`, Debian's patches applied, through the private apt
# configuration of tests/foreign-tests.sh); where the mirror does not serve it, the release
# archive ARCHIVES/NAME-VERSION.tar.xz. Nothing of theirs is committed to Usher.
#
# It is built twice with meson, every target as `meson test` builds them: untouched against
# GLib, the control; and with renames only (GSocketService to UsherSocketService and so on,
# plus `#include <usher/usher.h>` in the file that uses the service, checked by renaming back)
# and `dependency('usher-1')` added to the targets that compile that file (checked the same
# way) against the Usher of USHER_BUILDDIR. Both builds are kept in CACHE, per source, compiler,
# GLib and Usher build directory, so that a later run only runs ninja, which rebuilds what
# Usher's headers changed.
#
# The first TAP line says whether Usher's headers compile without a diagnostic under the
# consumer's own warning flags. Then its tests run as meson runs them (the command and
# environment of its `meson introspect --tests`), all of a program's tests in one process, with
# --tap and meson's timeout ($CONSUMER_TEST_TIMEOUT overrides it). A test that crashes or hangs
# the process fails, and the run goes on in a new process with the tests done so far skipped
# (-s), until every test has a result. The results are TAP on stdout, two lines per test,
# GLib's and Usher's: a test that fails on GLib itself is TODO and does not fail the suite; one
# that passes on GLib must pass on Usher. The programs' own output goes to stderr.
set -euo pipefail
# shellcheck source=tests/foreign-tests.sh
source "$(dirname "$0")/../foreign-tests.sh"

consumer=$1 cache=$2 usher_builddir=$3 archives=$4
shift 4 # the rest is the C compiler

# Per consumer: the release to take where Debian's source is not served; the file that uses
# the service and the #include line after which Usher's header goes; the meson.build line (an
# extended regex) of each target that compiles that file, where `+ [dependency('usher-1')]`
# goes after the match, and how many; meson's options; meson's tests to run; each run's
# timeout (empty: meson's) and how many runs a test that hangs gets.
case $consumer in
    glib-networking)
        release=2.74.0
        file=tls/tests/connection.c include='#include <gio/gio.h>'
        meson_file=tls/tests/meson.build targets=1
        target_deps="^  \['connection', \['mock-interaction\.c'\], deps"
        # GnuTLS only, as Debian builds it; no proxy modules, which the tests do not use.
        options=(-Dgnutls=enabled -Dopenssl=disabled -Dlibproxy=disabled -Dgnome_proxy=disabled
            -Denvironment_proxy=disabled -Dinstalled_tests=false)
        tests=(connection-gnutls connection-gnutls-tls1.2)
        timeout='' hang_attempts=1 # meson's timeout; a hang fails
        ;;
    xdg-dbus-proxy)
        release=0.1.4
        file=flatpak-proxy.c include='#include "flatpak-proxy.h"'
        meson_file=meson.build targets=1
        target_deps='^  dependencies : common_deps'
        options=(-Dman=disabled -Dtests=true)
        tests=(test-proxy)
        timeout='' hang_attempts=1
        ;;
    gcr)
        release=3.41.1
        file=gcr/gcr-ssh-agent-service.c include='#include "gcr-ssh-agent-service.h"'
        # The gcr-ssh-agent program and the static library of its tests both compile the file.
        meson_file=gcr/meson.build targets=2
        target_deps='^    dependencies: \[ gcr_base_deps, gcr_base_dep, libsecret_dep, libsystemd_deps \]'
        options=(-Dgtk=false -Dintrospection=false -Dgtk_doc=false -Dsystemd=disabled)
        tests=(service)
        # Its setup() waits for the server thread's g_cond_signal() with g_cond_wait() and no
        # predicate: when the thread signals first, the wait never ends, before the test
        # begins. Measured on this project's machine (2 cores), a quarter of the runs of the 15
        # tests in one process hang so, on GLib 2.74.6 as on Usher (gdb: the main thread in
        # setup()'s g_cond_wait(), the server thread idle in its loop). Such a hang is run
        # again, on GLib and on Usher alike, up to five runs in all; a test that hangs five
        # times fails. The 15 tests take half a second: 10 s, not meson's 30, is ample, and
        # bounds the cost of each hang.
        timeout=10 hang_attempts=5
        ;;
    *) die "unknown consumer $consumer" ;;
esac
package=$consumer
timeout_override=${CONSUMER_TEST_TIMEOUT:-$timeout}
glib=$(pkg-config --modversion gio-2.0) || die "no gio-2.0"
glib_label="GLib $glib"
usher_builddir=$(cd "$usher_builddir" && pwd)
archives=$(realpath -m "$archives")
[ -f "$usher_builddir/meson-uninstalled/usher-1-uninstalled.pc" ] ||
    die "no usher-1-uninstalled.pc in $usher_builddir/meson-uninstalled"

started=$SECONDS
stage_started=$SECONDS
# stage WHAT: a TAP comment with the time WHAT took, since the last one.
stage() {
    echo "# $consumer: $1 in $((SECONDS - stage_started)) s"
    stage_started=$SECONDS
}

mkdir -p "$cache/$consumer"
exec 9>"$cache/$consumer.lock" # one run at a time per consumer and cache
flock 9

# --- The source: Debian's newest that the mirror serves, else the release archive. Sets tree
# (the unpacked source, untouched), source_label and source_note.
tree='' source_note='' missing=''
exec 8>"$cache/apt.lock" # the consumers share one apt directory
flock 8
apt_source_setup "$cache/apt"
debian_versions=$(apt_source_versions "$package")
for debian in $debian_versions; do
    dir=$cache/$consumer/debian-$debian
    if [ ! -f "$dir/complete" ]; then
        rm -rf "$dir" && mkdir -p "$dir/download"
        # apt-get source unpacks it with dpkg-source and applies Debian's patches.
        if (cd "$dir/download" && apt-get "${apt_options[@]}" source "$package=$debian" >&2); then
            mv "$(find "$dir/download" -mindepth 1 -maxdepth 1 -type d)" "$dir/glib"
            rm -rf "$dir/download"
            touch "$dir/complete"
        else
            echo "$0: apt-get source $package=$debian failed" >&2
            rm -rf "$dir"
            missing="${missing:+$missing, }$debian"
            continue
        fi
    fi
    tree=$dir/glib source_label="Debian's $package $debian"
    break
done
exec 8>&-
[ -z "$missing" ] || source_note="the mirror lacks Debian's $package $missing"
[ -n "$debian_versions" ] || source_note="the mirror lists no $package source"
if [ -z "$tree" ]; then
    archive=$archives/$package-$release.tar.xz
    dir=$cache/$consumer/upstream-$release
    if [ ! -f "$dir/complete" ]; then
        if [ ! -f "$archive" ] && [ -n "$apt_no_network" ]; then
            # A release tarball built offline (a Flatpak or distribution builder).
            skip "no network to fetch Debian's $package ($apt_no_network), and no $archive"
        fi
        [ -f "$archive" ] ||
            die "no source of $package: $source_note, and no $archive (see README's Real code on Usher)"
        rm -rf "$dir" && mkdir -p "$dir/glib"
        tar -xJf "$archive" -C "$dir/glib" --strip-components=1
        touch "$dir/complete"
    fi
    tree=$dir/glib source_label="$package $release"
    source_note="${source_note:+$source_note: }the release archive $archive"
fi
echo "# $source_label${source_note:+ ($source_note)}"
stage "source"

# --- The renamed copy, made once; its two files are made again when the renames change.
renamed_tree=${tree%/glib}/usher
if [ ! -f "$renamed_tree.complete" ]; then
    rm -rf "$renamed_tree"
    cp -a "$tree" "$renamed_tree"
    touch "$renamed_tree.complete"
fi
scratch=$cache/$consumer/scratch
mkdir -p "$scratch"
usher_rename "$tree/$file" "$scratch/renamed.c" "$include"
echo "$0: $renamed_lines lines of $file renamed" >&2
[ "$renamed_lines" -gt 1 ] || die "$file does not use GSocketService: only the #include changed"
# The meson.build: `+ [dependency('usher-1')]` after the match on each target's line.
sed -E "s/($target_deps)/\1 + [dependency('usher-1')]/" "$tree/$meson_file" >"$scratch/meson.build"
added=$(diff "$tree/$meson_file" "$scratch/meson.build" | grep -c '^>') || true
[ "$added" -eq "$targets" ] ||
    die "$meson_file: $added targets' dependencies matched '$target_deps', not $targets"
sed "s/ + \[dependency('usher-1')\]//" "$scratch/meson.build" | cmp -s - "$tree/$meson_file" ||
    die "the change to $meson_file changed more than the dependencies"
for pair in "renamed.c:$file" "meson.build:$meson_file"; do # only where changed: ninja would rebuild
    cmp -s "$scratch/${pair%%:*}" "$renamed_tree/${pair#*:}" ||
        cp "$scratch/${pair%%:*}" "$renamed_tree/${pair#*:}"
done
# Nothing else differs from the untouched source.
changed=$(diff -rq "$tree" "$renamed_tree" | sort) || true
[ "$changed" = "$(printf 'Files %s and %s differ\n' "$tree/$file" "$renamed_tree/$file" \
    "$tree/$meson_file" "$renamed_tree/$meson_file" | sort)" ] ||
    die "the renamed source differs from the untouched one elsewhere: $changed"

# --- The two builds, kept per source, compiler, GLib, meson and options; the renamed one per
# Usher build directory too (its configuration names it).
key=$(printf '%s\n' "$source_label" "$("$@" --version | head -n 1)" "$glib" "$(meson --version)" \
    "${options[@]}" | sha256sum | cut -c 1-12)
usher_key=$(printf '%s\n' "$key" "$usher_builddir" | sha256sum | cut -c 1-12)
builds=${tree%/glib}/builds
glib_build=$builds/glib-$key usher_build=$builds/usher-$usher_key
# build SOURCE BUILDDIR [MESON-OPTION...]: meson setup once, then ninja, every target.
build() {
    local source=$1 builddir=$2
    shift 2
    if [ ! -f "$builddir/build.ninja" ]; then
        rm -rf "$builddir"
        CC="${compiler[*]}" meson setup "$builddir" "$source" --wrap-mode=nodownload \
            "${options[@]}" "$@" >&2 || return 1
    fi
    ninja -C "$builddir" >&2 && touch "$builddir" # its time says when it was last used
}
compiler=("$@")
build "$tree" "$glib_build" || die "cannot build $source_label against GLib"
stage "the build against GLib"
build "$renamed_tree" "$usher_build" -Dpkg_config_path="$usher_builddir/meson-uninstalled" ||
    die "cannot build $source_label, renamed, against Usher"
stage "the build against Usher"
# Builds of other keys not used for a week go: a GLib upgrade makes new ones.
find "$builds" -mindepth 1 -maxdepth 1 -type d ! -name "glib-$key" ! -name "usher-$usher_key" \
    ! -newermt '7 days ago' -exec rm -rf {} + 2>/dev/null || true

# What links libusher-1: something in the renamed build, from USHER_BUILDDIR; nothing in the
# control.
links_usher() { # links_usher BUILDDIR: the programs and libraries that need libusher-1
    find "$1" -type f \( -perm -u+x -o -name '*.so' \) ! -path '*/meson-*' -print0 |
        while IFS= read -r -d '' object; do
            if readelf -d "$object" 2>/dev/null | grep 'NEEDED.*\[libusher-1\.so' >/dev/null; then
                echo "$object"
            fi
        done
}
[ -z "$(links_usher "$glib_build")" ] || die "the build against GLib links libusher-1"
mapfile -t on_usher < <(links_usher "$usher_build")
[ ${#on_usher[@]} -gt 0 ] || die "nothing in the renamed build links libusher-1"
for object in "${on_usher[@]}"; do
    ldd "$object" | grep -F "libusher-1.so.0 => $usher_builddir/libusher-1.so.0 " >/dev/null ||
        die "$object does not load $usher_builddir/libusher-1.so.0"
done

# Usher's headers compile without a diagnostic under the consumer's own flags (xdg-dbus-proxy's
# -Werror list, glib-networking's GLIB_VERSION_MIN_REQUIRED, warning_level=2): the renamed file
# compiled again with the command of each target that compiles it, the object thrown away (not
# -fsyntax-only, which skips some warnings); a warning or error located in one of Usher's
# headers fails. Done at each run, since the build compiles the file only once.
header_diagnostics=''
header_dirs=$(PKG_CONFIG_PATH=$usher_builddir/meson-uninstalled pkg-config --cflags-only-I usher-1 |
    tr ' ' '\n' | sed -n 's/^-I//p' | while read -r dir; do
        if [ -d "$dir/usher" ]; then echo "$dir/usher/"; fi
    done) || die "pkg-config knows no usher-1 in $usher_builddir"
[ -n "$header_dirs" ] || die "pkg-config's usher-1 has no directory with Usher's headers"
rm -f "$scratch"/compile.*
/usr/bin/python3 - "$usher_build" "$file" "$scratch/compile" <<'EOF' || die "no compile command of $file"
import json, shlex, sys
builddir, file, output = sys.argv[1:]
with open(f"{builddir}/compile_commands.json") as f:
    commands = [c for c in json.load(f) if c["file"].endswith("/" + file)]
assert commands
for n, command in enumerate(commands):  # its object to /dev/null, without -MD's depfile
    words, argv = shlex.split(command["command"]), []
    while words:
        word = words.pop(0)
        if word in ("-o", "-MQ", "-MF"):
            words.pop(0)
        elif word != "-MD" and not word.startswith("-fdiagnostics-color"):
            argv.append(word)
    argv += ["-o", "/dev/null", "-fdiagnostics-color=never"]
    with open(f"{output}.{n}", "w") as f:  # the directory, then the command
        f.write("".join(word + "\0" for word in [command["directory"]] + argv))
EOF
for command in "$scratch"/compile.*; do
    mapfile -d '' -t compile <"$command"
    (cd "${compile[0]}" && "${compile[@]:1}") >/dev/null 2>"$scratch/compile.err" ||
        die "the renamed $file does not compile again: $(cat "$scratch/compile.err")"
    cat "$scratch/compile.err" >&2
    while IFS= read -r dir; do
        header_diagnostics+=$(grep -F "$dir" "$scratch/compile.err" |
            grep -E ':[0-9]+(:[0-9]+)?: (warning|error)' | tr -d '#') || true
    done <<<"$header_dirs"
done

# The tests run unlocked: a daemon a test leaves running would hold the lock.
exec 9>&-

# meson_test BUILDDIR NAME: sets test_dir, test_timeout and test_command (env, the environment
# and the command) of meson's test NAME in BUILDDIR.
meson_test() {
    local spec=$scratch/test-spec
    /usr/bin/python3 - "$1" "$2" >"$spec" <<'EOF' || die "meson has no test $2 in $1"
import json, sys
builddir, name = sys.argv[1:]
with open(f"{builddir}/meson-info/intro-tests.json") as f:
    (test,) = [test for test in json.load(f) if test["name"] == name]
fields = [test["workdir"] or builddir, str(test["timeout"]), "env"]
fields += [f"{key}={value}" for key, value in test["env"].items()] + test["cmd"]
sys.stdout.write("".join(field + "\0" for field in fields))
EOF
    local fields
    mapfile -d '' -t fields <"$spec"
    test_dir=${fields[0]} test_timeout=${timeout_override:-${fields[1]}}
    test_command=("${fields[@]:2}")
}

# run_tests LABEL PATH...: runs test_command's tests PATH... as described at the top, in
# test_dir; sets result[PATH] for each, `ok`, `skip REASON` or `fail WHY`. A test that hangs is
# run again, up to $hang_attempts runs in all, each said in a TAP comment.
run_tests() {
    local label=$1 line path kind reason why status first last skips=()
    local -A attempts=()
    local tap_line='^(not )?ok [0-9]+ (/[^ ]*)( # (SKIP|TODO) ?(.*))?$'
    shift
    result=()
    while :; do
        local ran=()
        why=
        status=0
        why=$(cd "$test_dir" && run_logged "$scratch/run" "$test_timeout" "${test_command[@]}" --tap \
            "${skips[@]}") || status=1
        while IFS= read -r line; do
            [[ $line =~ $tap_line ]] || continue
            path=${BASH_REMATCH[2]} kind=${BASH_REMATCH[4]} reason=${BASH_REMATCH[5]}
            [ -z "${result[$path]+set}" ] || continue # a test skipped with -s
            case ${BASH_REMATCH[1]}/$kind in
                /) result[$path]=ok ;;
                /SKIP) result[$path]="skip ${reason:-skipped}" ;;
                */TODO) result[$path]="fail not ok: ${reason:-incomplete}" ;;
                *) result[$path]="fail not ok" ;;
            esac
            ran+=("$path")
        done <"$scratch/run.out"
        first=
        for path in "$@"; do
            if [ -z "${result[$path]+set}" ]; then first=$path && break; fi
        done
        if [ -n "$first" ] && [ "${why#timed out}" != "$why" ] &&
            [ "${attempts[$first]:-1}" -lt "$hang_attempts" ]; then
            # A hang where the consumer's own test can hang on GLib too: once more.
            attempts[$first]=$((${attempts[$first]:-1} + 1))
            echo "# $label: $first $why: run again (attempt ${attempts[$first]} of $hang_attempts)"
        elif [ -n "$first" ]; then # the process ended or hung in $first
            result[$first]="fail ${why:-the process exited before its result}"
            echo "$0: $label: $first: ${result[$first]}; going on after it" >&2
        elif [ $status -ne 0 ]; then
            # Every test has its result: a failed one explains the status, else the last
            # test to run takes the blame for how the process ended.
            for path in "${ran[@]}"; do
                [ "${result[$path]%% *}" != fail ] || return 0
            done
            [ ${#ran[@]} -gt 0 ] || return 0
            last=${ran[${#ran[@]} - 1]}
            result[$last]="fail after its result: $why"
            return 0
        else
            return 0
        fi
        skips=()
        for path in "$@"; do
            if [ -n "${result[$path]+set}" ]; then skips+=(-s "$path"); fi
        done
    done
}

# --- The tests: each of meson's tests, on GLib then on Usher.
declare -A result glib_result usher_result
declare -a plan=()
declare -A paths_of
for name in "${tests[@]}"; do
    meson_test "$glib_build" "$name"
    paths=$(cd "$test_dir" && list_tests "${test_command[@]}") || die "$name -l failed on GLib"
    [ -n "$paths" ] || die "$name lists no tests"
    meson_test "$usher_build" "$name"
    [ "$(cd "$test_dir" && list_tests "${test_command[@]}")" = "$paths" ] ||
        die "$name lists other tests on Usher"
    paths_of[$name]=$paths
    plan+=("$name")
done
total=0
for name in "${plan[@]}"; do total=$((total + $(echo "${paths_of[$name]}" | wc -l))); done
echo "1..$((2 * total + 1))"
tap_n=1
if [ -z "$header_diagnostics" ]; then
    echo "ok 1 Usher's headers: no diagnostic in $file, renamed, with $consumer's flags"
else
    echo "not ok 1 Usher's headers: in $file, renamed, with $consumer's flags: $header_diagnostics"
fi
for name in "${plan[@]}"; do
    mapfile -t paths <<<"${paths_of[$name]}"
    for flavour in glib usher; do
        if [ $flavour = glib ]; then builddir=$glib_build; else builddir=$usher_build; fi
        meson_test "$builddir" "$name"
        echo "$0: running $name on $flavour: ${test_command[*]}" >&2
        run_tests "$name on $flavour" "${paths[@]}"
        for path in "${paths[@]}"; do
            if [ $flavour = glib ]; then
                glib_result[$path]=${result[$path]}
            else
                usher_result[$path]=${result[$path]}
            fi
        done
    done
    for path in "${paths[@]}"; do
        tap_pair "$name $path ($source_label)" "${glib_result[$path]}" "${usher_result[$path]}"
    done
    stage "$name, on GLib and on Usher"
done
echo "# $consumer: $((SECONDS - started)) s in all"
