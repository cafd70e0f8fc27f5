#!/usr/bin/env bash
# `npm start`: installs what is missing, then starts Porthole's embedded default:
# the agent with local desktops on this machine, and the launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh run
npm run -s build
exec npx tsx scripts/start.ts "$@"
