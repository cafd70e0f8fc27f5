# The desktop image: TigerVNC's Xvnc, XFCE (the default Template) and openbox + xterm (a terminal
# desktop), and the WebRTC streamer (Node.js, its encoder helper and GStreamer's encoders). The session pod
# runs its own command (cluster-agent/kubernetes/session-objects.ts) as uid 1000 with a read-only root:
# everything it writes is /tmp (an emptyDir) and the home volume.
# Debian 13 for Node.js 20 (bookworm has 18); the streamer's helper, built on the host against bookworm,
# needs only sonames trixie keeps (GStreamer 1.0, libaom3, libyuv0, xcb).
SUITE=trixie
REF=ghcr.io/porthole-dev/porthole-desktop:0.1.0
PACKAGES=(tigervnc-standalone-server tigervnc-tools xfce4-session xfwm4 xfce4-panel xfdesktop4 xfce4-settings
  xfce4-terminal dbus-x11 openbox xterm x11-xserver-utils fonts-dejavu-core procps
  nodejs gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  libxcb-shm0 libxcb-damage0 libaom3 libyuv0 libunwind8 libjpeg62-turbo)
OCI_ARGS=(--user 1000:1000 --workdir /home/porthole --env HOME=/home/porthole --env LANG=C.UTF-8
  --cmd '["/bin/sh","-c","echo the session pod gives its own command >&2; exit 2"]'
  --label org.opencontainers.image.title=porthole-desktop)

# Mesa's LLVM and its DRI drivers are most of the size and unused: Xvnc renders in software without GLX
# acceleration, and nothing in a desktop pod has a GPU unless its Template asks for one.
base_hook() {
  rm -f "$1"/usr/lib/x86_64-linux-gnu/libLLVM*.so* "$1"/usr/lib/x86_64-linux-gnu/dri/*_dri.so
}

stage_app() {
  local dir=$1 root=$2
  [ -f "$root/dist/streamer/porthole-streamer.mjs" ] || (cd "$root" && node build/bundle-streamer.mjs >&2)
  mkdir -p "$dir/opt/porthole" "$dir/usr/local/bin"
  cp -a "$root/dist/streamer" "$dir/opt/porthole/streamer"
  printf '#!/bin/sh\nexec node /opt/porthole/streamer/porthole-streamer.mjs "$@"\n' > "$dir/usr/local/bin/porthole-streamer"
  chmod 755 "$dir/usr/local/bin/porthole-streamer"
}
