#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every check and test on real parts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh test

step() { printf '\n=== %s\n' "$*"; }
step "type check";            npx tsc -p tsconfig.json --noEmit
step "lint";                  npx eslint . --max-warnings=0
step "build";                 npm run -s build
step "Electron security audit"; bash scripts/audit-electron.sh
step "unit and integration tests (real Xvnc, agent, keyring)"; npx vitest run
step "WebRTC on shaped and firewalled links (network namespaces: tc, nftables, coturn)"; npx vitest run --config test/network/vitest.config.ts
step "API fuzzing of a real agent (schemathesis: no request gets a 5xx)"; bash scripts/schemathesis.sh
step "Kubernetes runtime on a real control plane (etcd, kube-apiserver, kwok)"; npx vitest run --config test/cluster/vitest.config.ts
step "session pods on a real kubelet node (containerd + runc, the project's images from Debian packages)"; npx vitest run --config test/node/vitest.config.ts
step "end-to-end (Debian Chromium through the web shell)";      npx vitest run --config test/e2e/vitest.config.ts
