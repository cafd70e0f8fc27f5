#!/usr/bin/env bash
# The pod sandbox ("pause") image, made without a registry: Debian's static catatonit in pause mode.
# Prints the archive's path; cached beside the other images, keyed by the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PORTHOLE_IMAGE_CACHE:-$HOME/.cache/porthole/images}
[ -x /usr/bin/catatonit ] || { echo "porthole: catatonit is needed for the pause image (scripts/ensure-deps.sh installs it)" >&2; exit 1; }
key=$(cat /usr/bin/catatonit "$here/../images/oci-archive.mjs" | sha256sum | cut -c1-16)
out="$cache/pause-$key.oci.tar"
if [ ! -f "$out" ]; then
  mkdir -p "$cache"
  stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
  install -D -m 0755 /usr/bin/catatonit "$stage/catatonit"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf "$stage.layer.tar" catatonit
  node "$here/../images/oci-archive.mjs" --out "$out" --ref "$(cat "$here/pause-image.ref")" --layer "$stage.layer.tar" \
    --user 65535:65535 --entrypoint '["/catatonit","-P"]' >/dev/null
  rm -f "$stage.layer.tar"
fi
echo "$out"
