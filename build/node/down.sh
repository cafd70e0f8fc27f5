#!/usr/bin/env bash
# Stops the real node of build/node/up.sh (only the processes it recorded, by pid, after checking each is
# still one of this node's), removes its network namespace and its state. Usage: build/node/down.sh CLUSTER_DIR
set -euo pipefail
dir=$(cd "${1:?usage: build/node/down.sh CLUSTER_DIR}" 2>/dev/null && pwd) || exit 0
nd="$dir/real-node"
netns="porthole-$(basename "$dir" | cut -c1-40)"
[ -d "$nd" ] || exit 0
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$nd"; }
stop() {
  local f=$nd/pids/$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if ours "$pid"; then kill "$pid" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$f"
}
stop policy
stop konnectivity-agent
stop konnectivity-server
stop kubelet
# the pods' processes: containerd's shims for this node (their command line names its socket), then containerd
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $nd/containerd.sock" || true); do
  pkill -9 -P "$pid" 2>/dev/null || true; kill -9 "$pid" 2>/dev/null || true
done
stop containerd
stop node
stop api-service
stop api-netns
stop api-host
# the pods' network namespaces (bind-mounted files under the node's directory), then the node's own
for f in "$nd"/netns/*; do [ -e "$f" ] && { umount "$f" 2>/dev/null || true; rm -f "$f"; }; done
# containerd 1.6 puts them in /run/netns whatever netns_mounts_under says: the cni-* ones made since this
# node started, once no process is in them
if [ -f "$nd/started" ]; then
  for f in $(find /run/netns -maxdepth 1 -name 'cni-*' -newer "$nd/started" 2>/dev/null); do
    [ -z "$(ip netns pids "$(basename "$f")" 2>/dev/null)" ] && ip netns del "$(basename "$f")" 2>/dev/null || true
  done
fi
ip netns del "$netns" 2>/dev/null || true
rm -rf "$nd" 2>/dev/null || { sleep 1; rm -rf "$nd" || echo "porthole-node: could not remove all of $nd" >&2; }
