#!/usr/bin/env bash
# Installs what Porthole needs on a fresh Debian machine, and nothing when it is all there.
# Usage: scripts/ensure-deps.sh run|test
#   run : what `npm start` needs (desktops + a browser for the web shell)
#   test: that plus what the test suite drives (websockify, Secret Service keyring, X tools, a Python
#         venv for schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
run_pkgs=(tigervnc-standalone-server tigervnc-tools openbox xterm bubblewrap x11-xserver-utils chromium fonts-dejavu-core
  # the WebRTC streamer: GStreamer encoders at run time, and what its C encoder helper is built with
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gcc libc6-dev pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libxcb1-dev libxcb-shm0-dev libxcb-damage0-dev libyuv-dev libaom-dev
  # desktop sound: a PulseAudio server per session (a null sink), captured by gst-launch-1.0 (pulsesrc, opusenc)
  pulseaudio gstreamer1.0-tools)
test_pkgs=(websockify dbus gnome-keyring x11-utils xdotool xclip python3-venv coturn iproute2 nftables xvfb slapd openssl
  # the real node (build/node/up.sh) and the images it runs (build/images/build.sh)
  containerd runc containernetworking-plugins catatonit socat mmdebstrap
  # its NetworkPolicy enforcer (kube-router's firewall)
  ipset iptables)
pkgs=("${run_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "porthole: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "porthole: these Debian packages are missing: ${missing[*]}" >&2
    echo "porthole: install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# npm packages: (re)install when node_modules is missing or older than the lock file.
# Electron's binary cannot be downloaded everywhere (not from the npm registry); its types are enough
# for building, and `npm start` falls back to the web shell in Chromium when the binary is absent.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install`, not `npm ci`: it installs the lock file's versions all the same, and npm 11 rejects
  # its own lock files in `npm ci` when they list other platforms' optional packages without versions.
  echo "porthole: installing npm packages"
  ELECTRON_SKIP_BINARY_DOWNLOAD=${ELECTRON_SKIP_BINARY_DOWNLOAD:-1} npm install --no-audit --no-fund --loglevel=error
fi
