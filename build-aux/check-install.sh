#!/bin/bash
# Checks a staged `meson install --destdir STAGE`: the files a C, Vala, Python or gjs user
# needs are there, and a C and a Vala program build against them with pkg-config alone.
set -euo pipefail

stage=$1
source_root=$(cd "$(dirname "$0")/.." && pwd)

find_one() {
    local found
    found=$(find "$stage" -path "*/$1" | head -n 1)
    [ -n "$found" ] || { echo "not installed: $1" >&2; exit 1; }
    echo "$found"
}

library=$(find_one 'libusher-1.so.0')
find_one 'include/usher-1/usher/usher.h' >/dev/null
find_one 'include/usher-1/usher/usher-version.h' >/dev/null
pc=$(find_one 'pkgconfig/usher-1.pc')
find_one 'gir-1.0/Usher-1.gir' >/dev/null
typelib=$(find_one 'girepository-1.0/Usher-1.typelib')
vapi=$(find_one 'vala/vapi/usher-1.vapi')
find_one 'vala/vapi/usher-1.deps' >/dev/null

soname=$(readelf -d "$library" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libusher-1.so.0 ] || { echo "SONAME is '$soname'" >&2; exit 1; }
exported=$(nm -D --defined-only "$library" | awk '{print $3}' | grep -v '^usher_' || true)
[ -z "$exported" ] || { echo "exports more than usher_*: $exported" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The staged .pc names the final prefix: point it into the stage.
mkdir "$work/pkgconfig"
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed "s|^prefix=.*|prefix=$stage$prefix|" "$pc" >"$work/pkgconfig/usher-1.pc"
export PKG_CONFIG_PATH=$work/pkgconfig
# shellcheck disable=SC2046 # pkg-config prints one flag per word
gcc -o "$work/echo-c" "$source_root/examples/echo.c" $(pkg-config --cflags --libs usher-1)
# valac asks pkg-config for the C flags of usher-1, too.
valac --quiet -X -w --vapidir "$(dirname "$vapi")" --pkg usher-1 -d "$work" -o echo-vala \
    "$source_root/examples/echo.vala" >/dev/null
LD_LIBRARY_PATH=$(dirname "$library") GI_TYPELIB_PATH=$(dirname "$typelib") /usr/bin/python3 -c \
    'import gi; gi.require_version("Usher", "1"); from gi.repository import Usher; Usher.SocketService()'
echo "installed files are complete and usable"
