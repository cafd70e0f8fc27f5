#!/usr/bin/env bash
# Starts (or finds running) a real Kubernetes control plane on 127.0.0.1 for tests and development:
# etcd, kube-apiserver / kube-controller-manager / kube-scheduler built by build-binaries.sh, and the
# kwok controller with fake nodes, all started by `kwokctl --runtime binary` from local files (no downloads).
# RBAC authorization and the default admission plugins (PodSecurity among them) are on.
#
# stdout: exactly one line `KUBECONFIG=<absolute path>` once the API server answers and the nodes are Ready.
# Everything else goes to stderr.
#
# Environment:
#   PORTHOLE_CLUSTER_NAME   cluster name (default porthole-dev)
#   PORTHOLE_CLUSTER_DIR    state directory (default ~/.cache/porthole/kwok); the cluster lives in
#                           $PORTHOLE_CLUSTER_DIR/clusters/$PORTHOLE_CLUSTER_NAME
#   PORTHOLE_CLUSTER_NODES  number of general KWOK nodes (default 2); one GPU node is always added
#   PORTHOLE_CLUSTER_POD_NET second octet of the pod network 127.X.0.0/16 (default derived from the name)
#   PORTHOLE_ETCD_BINARY    etcd to run (default: the etcd 3.5 build-binaries.sh builds; Debian's 3.4 is too old)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "porthole-cluster: $*" >&2; }

name=${PORTHOLE_CLUSTER_NAME:-porthole-dev}
state=${PORTHOLE_CLUSTER_DIR:-$HOME/.cache/porthole/kwok}
nodes=${PORTHOLE_CLUSTER_NODES:-2}
case "$name" in *[!a-z0-9-]* | "" | -*) log "cluster name must be lowercase letters, digits and '-': '$name'"; exit 2 ;; esac
# Each cluster gets its own 127.X.0.0/16 for pod IPs (node i has 127.X.i.0/24), so clusters of parallel
# tests do not hand out the same addresses. X is in 16..215, stable per name.
pod_net=${PORTHOLE_CLUSTER_POD_NET:-$((16 + $(printf %s "$name" | cksum | cut -d' ' -f1) % 200))}

started=$(date +%s%N)
bin=$("$here/build-binaries.sh")
etcd=${PORTHOLE_ETCD_BINARY:-$bin/etcd}
[ -x "$etcd" ] || { log "no etcd at $etcd"; exit 1; }

mkdir -p "$state"
state=$(cd "$state" && pwd)
export KWOK_WORKDIR="$state"
dir="$state/clusters/$name"
kubeconfig="$dir/kubeconfig.yaml"

# kwokctl picks free ports by probing, so two clusters created at once could pick the same ones. One lock
# for every cluster on this machine, held until the components listen. Processes started below must not
# inherit the lock's file descriptor (they would hold it for ever), hence the 9>&- on each kwokctl.
exec 9>"${TMPDIR:-/tmp}/porthole-cluster.lock"
flock 9

kwokctl() { "$bin/kwokctl" "$@" >&2 9>&-; }

all_running() {
  local p
  [ -d "$dir/pids" ] || return 1
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller; do
    [ -f "$dir/pids/$p.pid" ] && kill -0 "$(cat "$dir/pids/$p.pid")" 2>/dev/null || return 1
  done
}

if [ -f "$dir/kwok.yaml" ] && [ -f "$kubeconfig" ]; then
  if all_running; then
    log "cluster $name is running"
  else
    log "starting the stopped components of cluster $name"
    kwokctl start cluster --name "$name"
  fi
else
  if [ -e "$dir" ]; then
    log "removing the incomplete cluster directory $dir"
    kwokctl delete cluster --name "$name" || true
    rm -rf "$dir"
  fi
  log "creating cluster $name in $dir (pod network 127.$pod_net.0.0/16)"
  config="$here/kwokctl.yaml"
  if [ "${PORTHOLE_CLUSTER_KONNECTIVITY:-}" = 1 ]; then
    # For a real node (build/node/up.sh): the API server reaches the cluster (pods, Services, kubelets)
    # through a konnectivity server whose socket is $dir/konnectivity.sock, as control planes that cannot
    # route to their nodes do. The node's script starts that server and its agent inside the node's namespace.
    egress="$state/clusters/$name.egress.yaml"
    mkdir -p "$state/clusters"
    printf 'apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n- name: cluster\n  connection:\n    proxyProtocol: GRPC\n    transport:\n      uds:\n        udsName: %s\n' "$dir/konnectivity.sock" >"$egress"
    config="$state/clusters/$name.kwokctl.yaml"
    # Kubelets by their InternalIP (the konnectivity agent cannot resolve node names), and as the admin
    # certificate (a kubelet takes no anonymous requests).
    sed "s|^  # @egress-selector@$|  - key: egress-selector-config-file\n    value: $egress\n  - key: kubelet-preferred-address-types\n    value: InternalIP,Hostname\n  - key: kubelet-client-certificate\n    value: $dir/pki/admin.crt\n  - key: kubelet-client-key\n    value: $dir/pki/admin.key|" "$here/kwokctl.yaml" >"$config"
  fi
  kwokctl create cluster --name "$name" --kubeconfig "" --quiet-pull \
    -c "$config" -c "$here/kwok-stages.yaml" \
    --runtime binary --kube-authorization --kube-admission \
    --etcd-binary "$etcd" \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --kwok-controller-binary "$bin/kwok"
fi

node "$here/kube.mjs" wait-ready "$dir" 120
node "$here/kube.mjs" ensure-nodes "$dir" "$pod_net" "$nodes"
node "$here/kube.mjs" wait-nodes "$dir" 60
node "$here/kube.mjs" wait-sa "$dir" 60
node "$here/kube.mjs" ensure-storage "$dir"
log "cluster $name ready in $(( ($(date +%s%N) - started) / 1000000 )) ms; logs in $dir/logs"
echo "KUBECONFIG=$kubeconfig"
