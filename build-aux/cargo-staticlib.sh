#!/bin/sh
# Builds Usher's Rust code, with its C API, as the static library meson wraps into
# libusher-1.so.
#
# Usage: cargo-staticlib.sh CARGO MANIFEST TARGET_DIR PROFILE OUTPUT
set -eu

cargo=$1
manifest=$2
target_dir=$3
profile=$4
output=$5

case $profile in
    release) profile_flag=--release ;;
    debug) profile_flag= ;;
    *) echo "unknown profile: $profile" >&2; exit 1 ;;
esac

# shellcheck disable=SC2086 # profile_flag is empty or one word
"$cargo" rustc --manifest-path "$manifest" --target-dir "$target_dir" $profile_flag \
    --lib --crate-type staticlib --features capi

# Copy only when it changed: meson then relinks and rescans the GIR only when needed.
built=$target_dir/$profile/libusher.a
cmp -s "$built" "$output" || cp "$built" "$output"
