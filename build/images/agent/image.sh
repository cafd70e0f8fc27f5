# The cluster agent's image: Node.js and the one bundled file (dist/agent/porthole-agent.mjs), as a
# non-root user with a read-only root (the Deployment from `porthole-agent manifests` mounts
# /var/lib/porthole and /etc/porthole). Debian 13: its Node.js is 20 (the agent needs >= 20.19).
SUITE=trixie
REF=ghcr.io/porthole-dev/porthole-agent:0.1.0
PACKAGES=(nodejs ca-certificates)
OCI_ARGS=(--user 65532:65532 --workdir /app
  --entrypoint '["node","--enable-source-maps","/app/porthole-agent.mjs"]'
  --cmd '["serve","--runtime","kubernetes","--listen","0.0.0.0:8080"]'
  --label org.opencontainers.image.title=porthole-agent)

base_hook() { :; }

stage_app() {
  local dir=$1 root=$2
  [ -f "$root/dist/agent/porthole-agent.mjs" ] || (cd "$root" && node build/bundle-agent.mjs >&2)
  mkdir -p "$dir/app"
  cp "$root/dist/agent/porthole-agent.mjs" "$root/dist/agent/porthole-agent.mjs.map" "$dir/app/"
}
