#!/usr/bin/env bash
# Property-based fuzzing of a real agent's HTTP API with schemathesis, from its own
# /api/openapi.json: every operation gets generated valid and invalid requests (bounded), signed in
# as a real user, and no request may get a 5xx. Part of `npm test` (scripts/test.sh).
#
#   PORTHOLE_SCHEMATHESIS_EXAMPLES  examples per operation and phase (default 40)
#   PORTHOLE_SCHEMATHESIS_SEED      replay a run (schemathesis prints the seed it used)
#
# schemathesis (PyPI) is installed once into a virtualenv outside the repository, keyed by its
# version: ${XDG_CACHE_HOME:-~/.cache}/porthole/schemathesis-<version>/.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
EXAMPLES=${PORTHOLE_SCHEMATHESIS_EXAMPLES:-40}
PYTHON=${PYTHON:-python3}
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/porthole/schemathesis-$VERSION"
say() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

# --- schemathesis in its cache venv -------------------------------------------------------------
if ! "$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
  say "needs Python >= 3.9 with the venv module ($PYTHON); on Debian: apt-get install python3-venv"
  exit 1
fi
if [ ! -f "$VENV/.installed" ] || ! "$VENV/bin/python" -c 'import schemathesis' 2>/dev/null; then
  say "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
  touch "$VENV/.installed"
fi

# --- a real agent on a temp data dir ------------------------------------------------------------
work=$(mktemp -d -t porthole-schemathesis-XXXXXX)
agent_pid=
base=
token=
api() { # METHOD PATH -> prints the JSON answer; uses $base and $token
  node -e '
    const [method, path, base, token] = process.argv.slice(1);
    fetch(new URL(path, base), { method, headers: token ? { authorization: `Bearer ${token}` } : {} })
      .then(async (r) => process.stdout.write(await r.text()))
      .catch((e) => { console.error(e.message); process.exit(1); });' "$1" "$2" "$base" "$token"
}
stop_desktops() {
  # Desktops outlive the agent by design: end every one the run started, through the API.
  [ -n "$base" ] && [ -n "$token" ] || return 0
  local ids
  ids=$(api GET /api/v1/sessions | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const x of JSON.parse(s).sessions)if(!["Stopped","Failed"].includes(x.phase))console.log(x.id)}catch{}})') || return 0
  for id in $ids; do api DELETE "/api/v1/sessions/$id" >/dev/null || true; done
  for _ in $(seq 50); do
    live=$(api GET /api/v1/sessions | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).sessions.filter(x=>!["Stopped","Failed"].includes(x.phase)).length)}catch{console.log(0)}})')
    [ "$live" = 0 ] && return 0
    sleep 0.2
  done
  say "some desktops were still stopping after 10 s"
}
cleanup() {
  stop_desktops || true
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    for _ in $(seq 50); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$agent_pid" 2>/dev/null && kill -KILL "$agent_pid"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf %s "$password" | node --import tsx cluster-agent/agent/cli.ts users add fuzz --file "$work/users.yaml" --password-stdin >/dev/null
# node --import tsx (what `npm run agent` runs, minus npm): $! is the agent itself, so it is stopped by PID.
# The files exist before the agent starts: a background job opens its redirections after the fork,
# so on a busy machine the first look below could otherwise come before they exist.
: >"$work/agent.out"; : >"$work/agent.log"
node --import tsx cluster-agent/agent/cli.ts serve --runtime local --listen 127.0.0.1:0 \
  --data-dir "$work/data" --users "$work/users.yaml" >"$work/agent.out" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 300); do
  base=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$work/agent.out" 2>/dev/null || true)
  [ -n "$base" ] && break
  kill -0 "$agent_pid" 2>/dev/null || { say "the agent exited before it was ready:"; cat "$work/agent.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$base" ] || { say "the agent did not start within 60 s"; exit 1; }
token=$(node -e '
  const [base, password] = process.argv.slice(1);
  fetch(new URL("/api/v1/auth/login", base), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "fuzz", password }) })
    .then(async (r) => { if (!r.ok) throw new Error(`sign-in: ${r.status} ${await r.text()}`); process.stdout.write((await r.json()).accessToken); })
    .catch((e) => { console.error(e.message); process.exit(1); });' "$base" "$password")
say "agent $base (pid $agent_pid), signed in as fuzz; $EXAMPLES examples per operation"

# --- the run --------------------------------------------------------------------------------------
# POST /sessions is not excluded: it is the API's most important operation, and start-or-get keeps
# it to one live desktop per template for the one user (the stateful phase deletes and starts it a
# few times); stop_desktops ends whatever is left. One worker: the agent has 2 cores to share, and
# with several, hypothesis in threads on CPython 3.11 fails with "SystemError: AST constructor
# recursion depth mismatch" (a schemathesis/hypothesis problem, not the agent).
# From the temp dir: schemathesis keeps a cache of failures (.schemathesis/) in its working directory.
status=0
(cd "$work" && "$VENV/bin/schemathesis" run "$base/api/openapi.json" \
  --checks not_a_server_error \
  --max-examples "$EXAMPLES" \
  --header "Authorization: Bearer $token" \
  --workers 1 \
  --request-timeout 20 \
  ${PORTHOLE_SCHEMATHESIS_SEED:+--seed "$PORTHOLE_SCHEMATHESIS_SEED"}) || status=$?

# --- no 5xx, whatever schemathesis made of it ---------------------------------------------------
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  let requests = 0;
  const bad = [];
  const causes = new Set();
  const statuses = {};
  for (const l of lines) {
    let j; try { j = JSON.parse(l); } catch { continue; }
    if (j.msg === "request" || j.msg === "request refused before routing") {
      requests++;
      statuses[j.status] = (statuses[j.status] ?? 0) + 1;
      if (j.status >= 500 && !(j.status === 503 && j.url?.startsWith("/readyz"))) bad.push(`${j.status} ${j.method} ${j.url}`);
    }
    if (j.msg === "request failed") causes.add(j.err?.message ?? "(no message)");
  }
  const counts = Object.entries(statuses).map(([s, n]) => `${s}x${n}`).join(" ");
  console.error(`schemathesis.sh: the agent logged ${requests} requests (${counts}), ${bad.length} with a server error`);
  for (const b of bad.slice(0, 20)) console.error(`  ${b}`);
  for (const c of causes) console.error(`  cause in the agent log: ${c}`);
  process.exit(bad.length ? 1 : 0);' "$work/agent.log" || status=1
kill -0 "$agent_pid" 2>/dev/null || { say "the agent died during the run:"; tail -20 "$work/agent.log" >&2; status=1; }
[ "$status" = 0 ] && say "passed: no request got a 5xx" || say "FAILED: see the failures above"
exit "$status"
