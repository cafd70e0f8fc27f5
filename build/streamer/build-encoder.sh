#!/usr/bin/env bash
# Builds the streamer's encoder helper (cluster-agent/streamer/encoder/porthole-enc.c) against Debian's
# GStreamer and xcb, cached outside the repository keyed by its inputs (the source, the compiler, the
# library versions), so a second build is a copy. Prints the path of the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=cluster-agent/streamer/encoder/porthole-enc.c
libs="gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 xcb xcb-shm xcb-damage aom"
command -v pkg-config >/dev/null || { echo "porthole: pkg-config is needed to build the encoder (scripts/ensure-deps.sh installs it)" >&2; exit 1; }
pkg-config --exists $libs || { echo "porthole: the GStreamer/xcb/libaom development files are missing: $(pkg-config --print-errors $libs 2>&1 | head -1)" >&2; exit 1; }
# libyuv (the BGRx -> I420 conversion) has no pkg-config file in Debian: its header and -lyuv.
[ -f /usr/include/libyuv/convert.h ] || { echo "porthole: libyuv's development files are missing (Debian: libyuv-dev; scripts/ensure-deps.sh installs it)" >&2; exit 1; }
key=$( { cat "$src"; cc --version | head -1; pkg-config --modversion $libs; dpkg-query -W -f='${Version}' libyuv-dev libaom-dev 2>/dev/null; } | sha256sum | cut -c1-16)
cache=${PORTHOLE_STREAMER_CACHE:-$HOME/.cache/porthole/streamer}/$key
if [ ! -x "$cache/porthole-enc" ]; then
  mkdir -p "$cache"
  # shellcheck disable=SC2046
  cc -O2 -Wall -Werror -o "$cache/porthole-enc.tmp" "$src" $(pkg-config --cflags --libs $libs) -lyuv
  mv "$cache/porthole-enc.tmp" "$cache/porthole-enc"
fi
echo "$cache/porthole-enc"
