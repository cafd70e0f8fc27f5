#!/usr/bin/env bash
# Builds the real Kubernetes control plane for tests and development from Go modules (no Docker here):
# kube-apiserver, kube-controller-manager, kube-scheduler and (for the real node) kubelet from
# k8s.io/kubernetes, kwok/kwokctl, etcd, and for the real node kube-router (its NetworkPolicy) and
# konnectivity (the API server's way into its network).
# Binaries are cached outside the repository (PORTHOLE_CLUSTER_CACHE, default ~/.cache/porthole/cluster)
# so a second run is instant. Nothing built here is committed.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.35.4}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# Kubernetes 1.35 needs etcd 3.5+: with Debian bookworm's etcd 3.4 the API server cannot serve "watch list"
# streams (no RequestWatchProgress), kwok's watches keep failing, and pods wait 10-50 s to be marked Running
# (measured; 30 ms with 3.5). So etcd is built from its Go module like the rest.
ETCD_VERSION=${ETCD_VERSION:-v3.5.21}
# The real node's NetworkPolicy enforcer (its firewall only; build/node/up.sh). v2.1.0 is the one release the
# module proxy here serves, and advisories are reported against it: it runs only on the test node, inside
# that node's network namespace, with read-only API access.
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
# The API server's way into the real node's network (konnectivity: proxy-server and proxy-agent).
KONNECTIVITY_VERSION=${KONNECTIVITY_VERSION:-v0.33.0}
cache=${PORTHOLE_CLUSTER_CACHE:-$HOME/.cache/porthole/cluster}
bin="$cache/$K8S_VERSION/bin"
mkdir -p "$bin"

need=()
kube_router="$cache/kube-router-${KUBE_ROUTER_VERSION}/kube-router"
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kwok kwokctl etcd; do [ -x "$bin/$b" ] || need+=("$b"); done
[ -x "$kube_router" ] && [ "$(readlink "$bin/kube-router")" = "$kube_router" ] || need+=(kube-router)
knp="$cache/konnectivity-${KONNECTIVITY_VERSION}"
for b in proxy-server proxy-agent; do [ -x "$knp/$b" ] && [ "$(readlink "$bin/$b")" = "$knp/$b" ] || need+=("$b"); done
if [ ${#need[@]} -eq 0 ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "porthole: Go is needed to build the test control plane (apt-get install golang-go)" >&2; exit 1; }

# k8s.io/kubernetes is not meant to be required as a module: its go.mod points each k8s.io/* staging
# module at ./staging. A wrapper module replaces each with its published v0.X.Y twin.
minor=${K8S_VERSION#v1.}
staging="v0.${minor}"
work="$cache/$K8S_VERSION/src"
mkdir -p "$work"
cd "$work"
if [ ! -f go.mod ]; then
  go mod init porthole.dev/cluster-build >/dev/null 2>&1
  # The staging modules are the ones k8s.io/kubernetes's own go.mod replaces with ./staging/...
  modfile=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  mods=$(awk '/=> \.\/staging/{print $1}' "$modfile")
  {
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo "replace ("
    for m in $mods; do echo "  $m => $m ${staging}"; done
    echo ")"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
fi
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
  [ -x "$bin/$b" ] || { echo "porthole: building $b ${K8S_VERSION} (first time only; several minutes)" >&2; GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$bin/$b" "k8s.io/kubernetes/cmd/$b"; }
done
for b in kwok kwokctl; do
  [ -x "$bin/$b" ] || { echo "porthole: installing $b ${KWOK_VERSION}" >&2; GOBIN="$bin" go install "sigs.k8s.io/kwok/cmd/$b@${KWOK_VERSION}"; }
done
if [ ! -x "$kube_router" ]; then
  echo "porthole: installing kube-router ${KUBE_ROUTER_VERSION} (first time only; about two minutes)" >&2
  GOBIN="$(dirname "$kube_router")" go install "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@${KUBE_ROUTER_VERSION}"
fi
ln -sfn "$kube_router" "$bin/kube-router"
if [ ! -x "$knp/proxy-server" ] || [ ! -x "$knp/proxy-agent" ]; then
  # Its go.mod replaces konnectivity-client with a local directory, so `go install ...@version` refuses
  # it: build from a wrapper module that requires both at the same version.
  echo "porthole: building konnectivity ${KONNECTIVITY_VERSION} (first time only; about a minute)" >&2
  mkdir -p "$knp/src"
  (
    cd "$knp/src"
    if [ ! -f go.mod ]; then
      go mod init porthole.dev/konnectivity-build >/dev/null 2>&1
      printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "sigs.k8s.io/apiserver-network-proxy/cmd/agent"\n\t_ "sigs.k8s.io/apiserver-network-proxy/cmd/server"\n)\n' > tools.go
      go get "sigs.k8s.io/apiserver-network-proxy@${KONNECTIVITY_VERSION}" "sigs.k8s.io/apiserver-network-proxy/konnectivity-client@${KONNECTIVITY_VERSION}" >/dev/null 2>&1
    fi
    for b in server agent; do GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$knp/proxy-$b" "sigs.k8s.io/apiserver-network-proxy/cmd/$b"; done
  )
fi
for b in proxy-server proxy-agent; do ln -sfn "$knp/$b" "$bin/$b"; done
if [ ! -x "$bin/etcd" ]; then
  # etcd's own go.mod files carry replace directives, so `go install etcd@version` refuses them: build the
  # server's main package from a wrapper module, as for Kubernetes.
  echo "porthole: building etcd ${ETCD_VERSION} (first time only; about a minute)" >&2
  ework="$cache/etcd-${ETCD_VERSION}/src"
  mkdir -p "$ework"
  cd "$ework"
  if [ ! -f go.mod ]; then
    go mod init porthole.dev/etcd-build >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null 2>&1
  fi
  GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi
echo "$bin"
