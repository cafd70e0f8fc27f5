#!/usr/bin/env bash
# Builds one of the project's container images from Debian packages only, with no registry and no
# container engine: mmdebstrap makes the root file system (the base layer), the image's own files go in a
# second layer, and build/images/oci-archive.mjs writes an OCI archive that `ctr images import` and
# `podman load` read. Both layers are cached outside the repository keyed by their inputs, so a second
# build is instant and a change to the agent or streamer rebuilds only the small top layer.
#   build/images/build.sh desktop|agent      builds (or finds) it; prints the archive's path
# Environment: PORTHOLE_IMAGE_CACHE (default ~/.cache/porthole/images), PORTHOLE_DEBIAN_MIRROR.
set -euo pipefail
name=${1:?usage: build/images/build.sh desktop|agent}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
conf="$here/$name/image.sh"
[ -f "$conf" ] || { echo "porthole: no image called '$name' (build/images/*/image.sh)" >&2; exit 2; }
log() { echo "porthole-images: $*" >&2; }
cache=${PORTHOLE_IMAGE_CACHE:-$HOME/.cache/porthole/images}
mirror=${PORTHOLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

# image.sh sets SUITE, PACKAGES (array), REF, OCI_ARGS (array) and defines stage_app DIR (the top layer).
# shellcheck source=/dev/null
. "$conf"

base_key=$( { cat "$here/build.sh"; echo "$SUITE $mirror ${PACKAGES[*]}"; declare -f base_hook; } | sha256sum | cut -c1-16)
base="$cache/$name-base-$base_key.tar"
if [ ! -f "$base" ]; then
  command -v mmdebstrap >/dev/null || { log "mmdebstrap is needed (scripts/ensure-deps.sh installs it)"; exit 1; }
  log "building the $name base layer from Debian $SUITE (first time only; about a minute: 50 s for the desktop here)"
  started=$(date +%s)
  # No documentation, manual pages or translations: a desktop pod never shows them. The apt lists and
  # caches go too; the image is rebuilt, never upgraded in place.
  mmdebstrap --variant=apt --format=tar --quiet --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='echo "porthole:x:1000:" >>"$1/etc/group"' \
    --customize-hook='echo "porthole:x:1000:1000:Porthole desktop:/home/porthole:/bin/bash" >>"$1/etc/passwd"' \
    --customize-hook='install -d -o 1000 -g 1000 -m 0750 "$1/home/porthole"' \
    --customize-hook="$(declare -f base_hook); base_hook \"\$1\"" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    "$SUITE" "$base.tmp" "$mirror" >&2
  mv "$base.tmp" "$base"
  log "base layer in $(( $(date +%s) - started )) s, $(( $(stat -c %s "$base") / 1048576 )) MiB"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
stage_app "$stage" "$root"
app_key=$( { cat "$here/oci-archive.mjs"; echo "$REF ${OCI_ARGS[*]} $base_key"; (cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
out="$cache/$name-$app_key.oci.tar"
if [ ! -f "$out" ]; then
  app="$cache/$name-app-$app_key.tar"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf "$app" .
  node "$here/oci-archive.mjs" --out "$out" --ref "$REF" --layer "$base" --layer "$app" "${OCI_ARGS[@]}" >/dev/null
  rm -f "$app"
  log "$REF in $out"
fi
echo "$out"

