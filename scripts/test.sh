#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every check and test on real parts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh test

step() { printf '\n=== %s\n' "$*"; }
# Every vitest stage also writes a JSON report; on the way out, pass or fail, they are added up into
# one closing line (scripts/test-summary.mjs).
results=$(mktemp -d -t porthole-test-results-XXXXXX)
stage=0
tests() { # NAME [vitest args]
  local name=$1; shift; stage=$((stage + 1))
  npx vitest run "$@" --reporter=default --reporter=json --outputFile.json="$results/$stage-$name.json"
}
summary() { status=$?; node scripts/test-summary.mjs "$results" || true; rm -rf "$results"; exit "$status"; }
trap summary EXIT

step "type check";            npx tsc -p tsconfig.json --noEmit
step "lint";                  npx eslint . --max-warnings=0
step "build";                 npm run -s build
step "Electron security audit"; bash scripts/audit-electron.sh
step "unit and integration tests (real Xvnc, agent, keyring)"; tests unit
step "WebRTC on shaped and firewalled links (network namespaces: tc, nftables, coturn)"; tests network --config test/network/vitest.config.ts
step "API fuzzing of a real agent (schemathesis: no request gets a 5xx)"; bash scripts/schemathesis.sh
step "Kubernetes runtime on a real control plane (etcd, kube-apiserver, kwok)"; tests cluster --config test/cluster/vitest.config.ts
step "session pods on a real kubelet node (containerd + runc, the project's images from Debian packages)"; tests node --config test/node/vitest.config.ts
step "end-to-end (Debian Chromium through the web shell)";      tests e2e --config test/e2e/vitest.config.ts
