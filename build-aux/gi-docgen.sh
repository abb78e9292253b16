#!/bin/sh
# Builds the C API reference with gi-docgen, failing on any warning.
#
# Usage: gi-docgen.sh GI_DOCGEN OUTPUT_DIR CONFIG CONTENT_DIR GIR
set -eu

gidocgen=$1
output=$2
config=$3
content=$4
gir=$5

# `check` fails on a symbol without documentation; `generate --fatal-warnings` on a broken
# link or any other warning.
"$gidocgen" check --config="$config" "$gir"
"$gidocgen" generate --quiet --fatal-warnings --config="$config" --content-dir="$content" \
    --output-dir="$output" --no-namespace-dir "$gir"
# gi-docgen rewrites the files of an existing directory without changing its time: touch it, so
# that ninja sees the documentation as up to date.
touch "$output"
