#!/bin/sh
# Builds Usher's Rust code, with its C API, as the static library meson wraps into
# libusher-1.so.
#
# Usage: cargo-staticlib.sh CARGO MANIFEST TARGET_DIR PROFILE OUTPUT DEPFILE LIBS [CARGO_ARG…]
#
# OUTPUT     the static library, copied from cargo's target directory
# DEPFILE    cargo's dep-info file (every source file of the crate), rewritten to name OUTPUT,
#            so that ninja reruns this only when a source file changed
# LIBS       a linker response file with the native libraries the static library needs, as
#            `rustc --print native-static-libs` lists them
# CARGO_ARG  more arguments for cargo, such as --offline --locked
set -eu

cargo=$1
manifest=$2
target_dir=$3
profile=$4
output=$5
depfile=$6
libs=$7
shift 7

case $profile in
    release) set -- --release "$@" ;;
    debug) ;;
    *) echo "unknown profile: $profile" >&2; exit 1 ;;
esac

# rustc prints the native libraries as a note on stderr (cargo replays it when the crate is
# already built): show cargo's output and keep a copy to read them from.
log=$output.log
# Cargo reads its configuration (such as .cargo/config.toml from `cargo vendor`) from the
# directory it runs in: it runs in the source tree, wherever the build directory is, so the
# paths it gets are absolute.
here=$(pwd)
case $output in
    /*) log_failed=$output.failed ;;
    *) log_failed=$here/$output.failed ;;
esac
case $target_dir in
    /*) ;;
    *) target_dir=$here/$target_dir ;;
esac
rm -f "$log_failed"
(
    cd "$(dirname "$manifest")"
    "$cargo" rustc --manifest-path "$manifest" --target-dir "$target_dir" "$@" \
        --lib --crate-type staticlib --features capi \
        -- --print native-static-libs 2>&1 || echo $? >"$log_failed"
) | tee "$log" >&2
if [ -f "$log_failed" ]; then
    rm -f "$log" "$log_failed"
    exit 1
fi

native_libs=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1)
rm -f "$log"
if [ -z "$native_libs" ]; then
    echo "cargo-staticlib.sh: rustc did not print native-static-libs" >&2
    exit 1
fi
# -lc is implied, and the rest may repeat: keep the first of each.
# shellcheck disable=SC2086 # one library a word
printf '%s\n' $native_libs | awk '$0 != "-lc" && !seen[$0]++' >"$libs.tmp"
mv "$libs.tmp" "$libs"

built=$target_dir/$profile/libusher.a
cp "$built" "$output"

# cargo's dep-info names its own library: name ours, and depend on the manifest and lock file.
lock=$(dirname "$manifest")/Cargo.lock
sed "1s|^[^:]*:|$output: $manifest $lock|" "$target_dir/$profile/libusher.d" >"$depfile.tmp"
mv "$depfile.tmp" "$depfile"
