#!/usr/bin/env bash
# Builds the helm CLI from its Go module (no binary downloads here) into a cache outside the
# repository, keyed by its version: ${XDG_CACHE_HOME:-~/.cache}/porthole/helm-<version>/helm.
# Prints the binary's path. A second run is instant.
set -euo pipefail
VERSION=${HELM_VERSION:-v4.3.2}
dir="${XDG_CACHE_HOME:-$HOME/.cache}/porthole/helm-$VERSION"
if [ -x "$dir/helm" ]; then echo "$dir/helm"; exit 0; fi
command -v go >/dev/null || { echo "porthole: Go is needed to build helm (apt-get install golang-go)" >&2; exit 1; }
mkdir -p "$dir"
echo "porthole: building helm $VERSION from helm.sh/helm/v4 (a few minutes on 2 cores, once)" >&2
GOBIN="$dir" GOFLAGS=-mod=mod go install "helm.sh/helm/v4/cmd/helm@$VERSION" >&2
echo "$dir/helm"
