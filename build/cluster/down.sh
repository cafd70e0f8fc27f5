#!/usr/bin/env bash
# Stops the test cluster started by up.sh and removes its state (etcd data, certificates, logs).
# Same environment as up.sh: PORTHOLE_CLUSTER_NAME (default porthole-dev), PORTHOLE_CLUSTER_DIR.
# The cached binaries stay. Only the processes recorded in the cluster's pid files are stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "porthole-cluster: $*" >&2; }

name=${PORTHOLE_CLUSTER_NAME:-porthole-dev}
state=${PORTHOLE_CLUSTER_DIR:-$HOME/.cache/porthole/kwok}
case "$name" in *[!a-z0-9-]* | "" | -*) log "cluster name must be lowercase letters, digits and '-': '$name'"; exit 2 ;; esac
[ -d "$state" ] || { log "no cluster state in $state"; exit 0; }
state=$(cd "$state" && pwd)
export KWOK_WORKDIR="$state"
dir="$state/clusters/$name"
[ -d "$dir" ] || { log "cluster $name does not exist in $state"; exit 0; }

exec 9>"${TMPDIR:-/tmp}/porthole-cluster.lock"
flock 9

bin=$("$here/build-binaries.sh")
"$bin/kwokctl" delete cluster --name "$name" >&2 9>&- || log "kwokctl delete failed; stopping by pid files"
# Whatever kwokctl left (e.g. a half-created cluster): stop the recorded pids, then remove the state.
if [ -d "$dir/pids" ]; then
  for f in "$dir"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # only if that pid is still one of this cluster's processes (its command line names the cluster dir)
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; then kill "$pid" 2>/dev/null || true; fi
  done
fi
rm -rf "$dir" "$state/clusters/$name.egress.yaml" "$state/clusters/$name.kwokctl.yaml"
log "cluster $name removed"
