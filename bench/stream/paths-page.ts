/**
 * Injected (addInitScript) into the real launcher page by bench/stream-paths.ts. Reads, from whatever
 * shows the desktop, the clock marker of ../shared/anchors/webrtc-gst/clock.c (same encoding and
 * decoding as its measure.js) and the colour of keyflash's square, on every shown frame:
 *   WebRTC: the <video>'s requestVideoFrameCallback, display time = expectedDisplayTime;
 *   VNC:    noVNC's <canvas> on every animation frame, display time = that frame's time + one frame
 *           (what rVFC's expectedDisplayTime is for a video frame composited in the same update).
 * Input-to-photon pairs each keydown the page saw (its event timeStamp) with the first shown frame in
 * which the square changed colour. (VNC's bytes are counted by the bench, from Chromium's WebSocket frames:
 * a WebSocket subclass here kept noVNC from completing its handshake.)
 */
export const PATHS_PAGE_JS = String.raw`(() => {
  if (window.__paths) return;
  const MX = 16, MY = 16, MB = 20, MN = 50;
  const P = (window.__paths = { g2g: [], i2p: [], frames: 0, bad: 0, keys: [], active: false, source: null, flash: null, pcs: [] });
  const FLASH = window.__pathsFlash; // {x, y} in desktop pixels, set by the bench before load

  const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[s.length >> 1] : null; };
  function calibrate(n = 7) {
    const est = [];
    for (let k = 0; k < n; k++) {
      const d0 = Date.now();
      let d, p;
      do { p = performance.now(); d = Date.now(); } while (d === d0);
      est.push(d - p);
    }
    return median(est);
  }
  P.C = calibrate();
  setInterval(() => (P.C = calibrate()), 2000);

  function crc8(bytes) {
    let c = 0;
    for (const b of bytes) { c ^= b; for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff; }
    return c;
  }
  function parse(luma) {
    const bits = new Array(MN);
    for (let i = 0; i < MN; i++) { let s = 0; for (let x = i * MB + 6; x < i * MB + 14; x++) s += luma[x]; bits[i] = s / 8 > 128 ? 1 : 0; }
    if (bits[0] !== 1 || bits[MN - 1] !== 0) return null;
    let v = 0; for (let i = 1; i <= 40; i++) v = v * 2 + bits[i];
    let crc = 0; for (let i = 41; i <= 48; i++) crc = crc * 2 + bits[i];
    const bytes = []; for (let k = 0; k < 5; k++) bytes.push(Math.floor(v / 2 ** (8 * (4 - k))) % 256);
    if (crc8(bytes) !== crc) return null;
    const M = 2 ** 40, now = Date.now();
    let diff = (((now - v) % M) + M) % M; if (diff > M / 2) diff -= M;
    return now - diff;
  }

  // Keys as the page saw them, before the launcher's handlers (capture phase on window).
  addEventListener('keydown', (e) => { if (P.active) P.keys.push(e.timeStamp); }, true);

  const PC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends PC { constructor(...a) { super(...a); P.pcs.push(this); } };

  let lastMarker = null, lastFlash = null;
  function onShown(marker, white, displayPerf) {
    if (marker === null) { P.bad++; return; }
    if (marker === lastMarker && white === lastFlash) return; // the same picture again
    const fresh = marker !== lastMarker;
    lastMarker = marker;
    if (!P.active) { lastFlash = white; return; }
    if (fresh) { P.frames++; P.g2g.push(P.C + displayPerf - marker); }
    if (lastFlash !== null && white !== lastFlash) {
      const key = P.keys.shift();
      if (key !== undefined) P.i2p.push(displayPerf - key);
    }
    lastFlash = white;
  }

  // --- WebRTC: the video, per presented frame
  let rowBuf = null;
  async function readVideo(video) {
    const f = new VideoFrame(video);
    try {
      const sx = f.codedWidth / video.videoWidth, y = 2 * Math.floor((MY + MB / 2) / 2);
      const rect = { x: MX, y, width: Math.min(MN * MB, f.codedWidth - MX), height: 2 };
      rowBuf = rowBuf ?? new Uint8Array(f.allocationSize({ rect }));
      const lay = await f.copyTo(rowBuf, { rect });
      const luma = rowBuf.subarray(lay[0].offset, lay[0].offset + MN * MB);
      const frect = { x: 2 * Math.floor(FLASH.x / 2), y: 2 * Math.floor(FLASH.y / 2), width: 2, height: 2 };
      const fb = new Uint8Array(f.allocationSize({ rect: frect }));
      const fl = await f.copyTo(fb, { rect: frect });
      void sx;
      return { marker: parse(luma), white: fb[fl[0].offset] > 128 };
    } finally { f.close(); }
  }
  function hookVideo(video) {
    const onFrame = (_now, md) => {
      video.requestVideoFrameCallback(onFrame);
      if (!video.videoWidth) return;
      readVideo(video).then((r) => onShown(r.marker, r.white, md.expectedDisplayTime), () => P.bad++);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  // --- VNC: noVNC's canvas, per animation frame
  let frameMs = 1000 / 60, lastRaf = 0;
  function tick(now) {
    requestAnimationFrame(tick);
    if (lastRaf) frameMs = 0.9 * frameMs + 0.1 * (now - lastRaf);
    lastRaf = now;
    const canvas = P.source === 'canvas' ? document.querySelector('[data-testid="desktop-screen"] canvas') : null;
    if (!canvas || !canvas.width) return;
    const ctx = canvas.getContext('2d');
    const d = ctx.getImageData(MX, MY + MB / 2, MN * MB, 1).data;
    const luma = new Uint8Array(MN * MB);
    for (let i = 0; i < MN * MB; i++) luma[i] = (d[4 * i] + d[4 * i + 1] + d[4 * i + 2]) / 3;
    const px = ctx.getImageData(FLASH.x, FLASH.y, 1, 1).data;
    onShown(parse(luma), (px[0] + px[1] + px[2]) / 3 > 128, now + frameMs);
  }
  requestAnimationFrame(tick);

  setInterval(() => {
    const screen = document.querySelector('[data-testid="desktop-screen"]');
    if (!screen) return;
    const video = screen.querySelector('video');
    if (video && !video.__paths && 'requestVideoFrameCallback' in video && getComputedStyle(video).display !== 'none') {
      video.__paths = true; P.source = 'video'; hookVideo(video);
    } else if (!video && screen.querySelector('canvas')) P.source = 'canvas';
  }, 200);

  async function rtp() {
    let bytes = 0, codec = null;
    for (const pc of P.pcs) {
      if (pc.connectionState !== 'connected') continue;
      const rep = await pc.getStats();
      rep.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') { bytes += s.bytesReceived; const c = rep.get(s.codecId); codec = c ? c.mimeType : codec; } });
    }
    return { bytes, codec };
  }
  P.start = async () => {
    P.g2g = []; P.i2p = []; P.frames = 0; P.bad = 0; P.keys = [];
    P.rtp0 = (await rtp()).bytes; P.t0 = performance.now(); P.active = true;
  };
  P.stop = async () => {
    P.active = false;
    const secs = (performance.now() - P.t0) / 1000;
    const r = await rtp();
    return { g2g: P.g2g, i2p: P.i2p, frames: P.frames, bad: P.bad, secs, rtpBytes: r.bytes - P.rtp0, codec: r.codec, source: P.source };
  };
})();`;
