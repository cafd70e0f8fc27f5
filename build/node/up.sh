#!/usr/bin/env bash
# Adds one real node to a test cluster made by build/cluster/up.sh: a kubelet (built from k8s.io/kubernetes
# like the API server) on Debian's containerd 1.6 + runc, CNI from Debian's plugins, with the project's
# images imported (nothing is pulled). Everything of the node lives in a network namespace this script
# makes: containerd, the kubelet, the pod bridge and every pod address. The kubelet reaches the API server
# through a relay this script owns (TCP in the namespace -> a Unix socket -> the API server on loopback);
# so do pods, at the `kubernetes` Service's address 10.96.0.1:443 (no kube-proxy runs here).
#
#   build/node/up.sh CLUSTER_DIR      prints NODE=<name>, NETNS=<namespace> once the node is Ready
#   build/node/down.sh CLUSTER_DIR    stops it (by pid) and removes the namespace and its state
#
# The node is labelled porthole.dev/node=real and tainted porthole.dev/node=real:NoSchedule, so pods meant
# for the KWOK nodes never land on it and the real-node tests' pods ask for it.
# Host kernel settings are left alone: the kubelet would set vm.overcommit_memory, vm.panic_on_oom,
# kernel.panic, kernel.panic_on_oops and kernel.keys.* for the whole machine (protectKernelDefaults: false)
# or refuse to start (true); it runs in a mount namespace of its own where those files read as what it
# wants, so it neither writes nor refuses (docs/real-node.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { echo "porthole-node: $*" >&2; }
dir=$(cd "${1:?usage: build/node/up.sh CLUSTER_DIR}" && pwd)
name=${PORTHOLE_NODE_NAME:-real-node-0}
nd="$dir/real-node"
netns="porthole-$(basename "$dir" | cut -c1-40)"
started=$(date +%s%N)

for p in containerd runc socat ip ipset iptables; do command -v "$p" >/dev/null || { log "$p is needed (scripts/ensure-deps.sh installs it)"; exit 1; }; done
bin=$("$root/build/cluster/build-binaries.sh")
for b in kubelet kube-router proxy-server proxy-agent; do [ -x "$bin/$b" ] || { log "no $b in $bin"; exit 1; }; done
server=$(sed -n 's/^ *server: *//p' "$dir/kubeconfig.yaml" | head -1)
api_port=${server##*:}
mkdir -p "$nd"/{pids,logs,cni,kubelet,pod-logs,sysctl}
[ -f "$nd/started" ] || touch "$nd/started"

running() { [ -f "$nd/pids/$1" ] && kill -0 "$(cat "$nd/pids/$1")" 2>/dev/null; }
# setsid: the processes outlive this script, and are stopped by down.sh by pid.
spawn() { local id=$1; shift; setsid "$@" >"$nd/logs/$id.log" 2>&1 </dev/null & echo $! >"$nd/pids/$id"; }

# --- the network namespace: loopback, the node's address, and 10.96.0.1 (the `kubernetes` Service) ---
if ! ip -n "$netns" link show node0 >/dev/null 2>&1; then
  ip netns del "$netns" 2>/dev/null || true
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  # a veth pair with both ends inside (the dummy driver is not always there): node0 carries the address
  ip -n "$netns" link add node0 type veth peer name node0-peer
  ip -n "$netns" link set node0-peer up
  ip -n "$netns" addr add 192.168.77.2/24 dev node0
  ip -n "$netns" link set node0 up
  ip -n "$netns" route add default dev node0
  # the `kubernetes` Service's address (build/cluster/kwokctl.yaml), local to the node as kube-proxy would
  # make it: a pod's in-cluster config reaches the API server through the relay below
  ip -n "$netns" addr add 10.96.0.1/32 dev lo
fi

# --- the relay to the API server ---
running api-host || spawn api-host socat "UNIX-LISTEN:$nd/apiserver.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$api_port"
running api-netns || spawn api-netns ip netns exec "$netns" socat "TCP-LISTEN:$api_port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$nd/apiserver.sock"
running api-service || spawn api-service ip netns exec "$netns" socat "TCP-LISTEN:443,bind=10.96.0.1,fork,reuseaddr" "UNIX-CONNECT:$nd/apiserver.sock"

# --- certificates signed by the cluster's CA; client identities get a kubeconfig for the relay above ---
# signed_cert ID SUBJECT [SAN]: $nd/ID.crt and .key (once)
signed_cert() {
  local id=$1 subject=$2 san=${3:-}
  [ -f "$nd/$id.crt" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$nd/$id.key" -subj "$subject" ${san:+-addext "subjectAltName=$san"} -out "$nd/$id.csr" 2>/dev/null
  openssl x509 -req -in "$nd/$id.csr" -CA "$dir/pki/ca.crt" -CAkey "$dir/pki/ca.key" -CAcreateserial -days 30 ${san:+-copy_extensions copy} -out "$nd/$id.crt" 2>/dev/null
}
# client_identity ID SUBJECT: its certificate and $nd/ID.kubeconfig
client_identity() {
  local id=$1
  signed_cert "$id" "$2"
  cat >"$nd/$id.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: porthole, cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$dir/pki/ca.crt"}}]
users: [{name: $id, user: {client-certificate: "$nd/$id.crt", client-key: "$nd/$id.key"}}]
contexts: [{name: $id, context: {cluster: porthole, user: $id}}]
current-context: $id
YAML
}
# the kubelet as system:node:<name> (the Node authorizer's shape); the NetworkPolicy enforcer as a user
# with read-only access to what it watches (kube.mjs ensure-policy-rbac)
client_identity kubelet "/O=system:nodes/CN=system:node:$name"
client_identity policy "/CN=porthole:network-policy"

# --- konnectivity: the API server's way into the node's network (service proxy, kubelet logs and exec).
# A cluster made with PORTHOLE_CLUSTER_KONNECTIVITY=1 sends its cluster traffic to $dir/konnectivity.sock;
# the server behind that socket and its agent both run in the node's namespace, so the socket file is the
# only way in, and agents must show a certificate of the cluster's CA.
signed_cert konnectivity-server "/CN=porthole:konnectivity-server" IP:127.0.0.1
signed_cert konnectivity-agent "/CN=porthole:konnectivity-agent"
running konnectivity-server || spawn konnectivity-server nsenter --net="/run/netns/$netns" "$bin/proxy-server" --uds-name="$dir/konnectivity.sock" \
  --mode=grpc --server-port=0 --agent-port=8132 --agent-bind-address=127.0.0.1 --admin-port=8133 --health-port=8134 --health-bind-address=127.0.0.1 \
  --cluster-cert="$nd/konnectivity-server.crt" --cluster-key="$nd/konnectivity-server.key" --cluster-ca-cert="$dir/pki/ca.crt"
running konnectivity-agent || spawn konnectivity-agent nsenter --net="/run/netns/$netns" "$bin/proxy-agent" --proxy-server-host=127.0.0.1 --proxy-server-port=8132 \
  --ca-cert="$dir/pki/ca.crt" --agent-cert="$nd/konnectivity-agent.crt" --agent-key="$nd/konnectivity-agent.key" --admin-server-port=8135 --health-server-port=8136

# --- containerd: its own root, state and socket; runc on cgroupfs; the pause image made here ---
pause_ref=$(cat "$here/pause-image.ref")
cat >"$nd/containerd.toml" <<TOML
version = 2
root = "$nd/containerd/root"
state = "$nd/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$nd/containerd.sock"
[ttrpc]
  address = "$nd/containerd.ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  # the pods' network namespaces are files under the node's own directory, not /run/netns
  netns_mounts_under = "$nd/netns"
  sandbox_image = "$pause_ref"
  # the sandbox may not raise its own OOM score protection; containers keep the kubelet's scores
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$nd/cni"
TOML
# One bridge in the namespace; host-local addresses 10.244.0.0/24; no masquerade (nothing leaves).
cat >"$nd/cni/10-porthole.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "porthole", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$nd/cni-ipam", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
]}
JSON

cat >"$nd/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$nd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
protectKernelDefaults: false
address: 192.168.77.2
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: "$dir/pki/ca.crt"}}
authorization: {mode: Webhook}
registerWithTaints: [{key: porthole.dev/node, value: real, effect: NoSchedule}]
podLogsDir: $nd/pod-logs
resolvConf: ""
# a test node shares its disk with everything else on the machine: evict only when it is really full
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# No pod and QoS cgroups of the kubelet's own: on this machine's hybrid cgroup v1 layout (cpu at /, memory
# under the sandbox's own group) its orphaned-pod cleanup takes every live pod's cgroup for an orphan and
# SIGKILLs it every 2 s (measured). Each container still gets its requests and limits in its own cgroup
# from runc, which is what the tests read.
cgroupsPerQOS: false
enforceNodeAllocatable: []
YAML

# The files the kubelet reads (and would otherwise write) for its kernel defaults, as it wants them.
printf 1 >"$nd/sysctl/vm.overcommit_memory"; printf 0 >"$nd/sysctl/vm.panic_on_oom"
printf 10 >"$nd/sysctl/kernel.panic"; printf 1 >"$nd/sysctl/kernel.panic_on_oops"
printf 1000000 >"$nd/sysctl/kernel.keys.root_maxkeys"; printf 25000000 >"$nd/sysctl/kernel.keys.root_maxbytes"
cat >"$nd/run-node.sh" <<SH
#!/bin/sh
# Runs in the node's network namespace and a mount namespace of its own (a slave of the host's): mounts made
# here (the kubelet's volumes, containerd's snapshots) stay here, as the sysctl overlays do.
set -eu
for f in $nd/sysctl/*; do k=\$(basename "\$f"); mount --bind "\$f" "/proc/sys/\$(echo "\$k" | tr . /)"; done
containerd --config "$nd/containerd.toml" >"$nd/logs/containerd.log" 2>&1 &
echo \$! >"$nd/pids/containerd"
i=0; while [ ! -S "$nd/containerd.sock" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
for img in "\$@"; do ctr --address "$nd/containerd.sock" -n k8s.io images import --all-platforms "\$img" >>"$nd/logs/images.log" 2>&1; done
"$bin/kubelet" --config "$nd/kubelet.yaml" --kubeconfig "$nd/kubelet.kubeconfig" --root-dir "$nd/kubelet" \\
  --cert-dir "$nd/kubelet/pki" --hostname-override "$name" --node-ip 192.168.77.2 \\
  --node-labels porthole.dev/node=real >"$nd/logs/kubelet.log" 2>&1 &
echo \$! >"$nd/pids/kubelet"
wait
SH
chmod +x "$nd/run-node.sh"

images=("$("$here/pause-image.sh")")
for i in desktop agent; do images+=("$("$root/build/images/build.sh" "$i")"); done
if ! running node; then
  log "starting containerd and the kubelet in network namespace $netns (importing ${#images[@]} images)"
  # nsenter + unshare, not `ip netns exec`: that remounts /sys for the namespace, which hides the cgroup
  # file systems the kubelet and runc need.
  spawn node nsenter --net="/run/netns/$netns" unshare --mount --propagation slave "$nd/run-node.sh" "${images[@]}"
fi
# 600 s: the wait includes importing the images into a fresh containerd (about 20 s on a quiet
# machine, over 180 s measured on a busy one right after the cluster stage).
node "$root/build/cluster/kube.mjs" wait-node "$dir" "$name" 600 "$nd/pids/kubelet" "$nd/pids/containerd" || { log "the node did not become Ready; logs in $nd/logs"; tail -20 "$nd/logs/kubelet.log" >&2 || true; exit 1; }
node "$root/build/cluster/kube.mjs" ensure-local-volumes "$dir" "$name" "$nd" 8

# the agent is connected to the server once its readiness answers
ip netns exec "$netns" node -e '
const until = Date.now() + 60000;
(async () => { for (;;) { try { if ((await fetch("http://127.0.0.1:8136/readyz")).ok) return; } catch {} if (Date.now() > until) process.exit(1); await new Promise((r) => setTimeout(r, 200)); } })();
' || { log "the konnectivity agent did not connect; logs in $nd/logs/konnectivity-*.log"; tail -5 "$nd/logs/konnectivity-agent.log" >&2 || true; exit 1; }

# --- NetworkPolicy: kube-router's firewall alone (no routing, no service proxy; the bridge plugin is the
# CNI), its iptables rules and ipsets in the node's namespace. Bridged pod-to-pod traffic passes them
# because br_netfilter's bridge-nf-call-iptables is on in the namespace (the kernel's per-namespace default).
node "$root/build/cluster/kube.mjs" ensure-policy-rbac "$dir" porthole:network-policy
running policy || spawn policy nsenter --net="/run/netns/$netns" "$bin/kube-router" --kubeconfig="$nd/policy.kubeconfig" \
  --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
  --hostname-override="$name" --health-port=20244 --metrics-port=0
# ready once its first sync has put its chains in place
for i in $(seq 600); do
  ip netns exec "$netns" iptables -S KUBE-ROUTER-FORWARD >/dev/null 2>&1 && break
  running policy && [ "$i" -lt 600 ] || { log "the NetworkPolicy enforcer did not start; logs in $nd/logs/policy.log"; tail -20 "$nd/logs/policy.log" >&2 || true; exit 1; }
  sleep 0.1
done
log "node $name Ready in $(( ($(date +%s%N) - started) / 1000000 )) ms; logs in $nd/logs"
echo "NODE=$name"
echo "NETNS=$netns"
