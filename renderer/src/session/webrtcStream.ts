/**
 * The WebRTC stream: signalling through the agent (DESIGN.md), a recvonly video whose codec order is
 * what this machine decodes best, the smallest playout delay, input and clipboard on a DataChannel,
 * and the desktop's cursor drawn by the browser itself (no stream latency when pointing). When the
 * connection does not come up in time, or the picture stalls, it says why and asks to be replaced by
 * VNC at once.
 */
import { INPUT_CHANNEL, ServerSignal, StreamerMessage, type ClientChannelMessage } from '../../../cluster-agent/contract/webrtc.js';
import { orderCapabilities } from '../logic/codecs.js';
import { keysymOf } from '../logic/keysym.js';
import { RESIZE_SETTLE_MS, resizeRequest } from '../logic/resize.js';
import type { DesktopStream, StreamHooks, StreamStats } from './stream.js';
import type { StreamHandlers } from './streamController.js';

export interface WebRtcConnect {
  url: string;
  iceServers: RTCIceServer[];
}

export interface WebRtcOptions {
  /** codec mime types, best first (logic/codecs.ts) */
  codecs: string[];
  /** ICE must connect within this; default 6 s */
  connectTimeoutMs?: number;
  /** no decoded frame for this long while connected = a stall; default 5 s (a still desktop sends one a second) */
  stallMs?: number;
  /** relay only (TURN): tests, and networks where nothing else goes */
  relayOnly?: boolean;
  /** WebRTC did not work: the reason, as a sentence (the view then uses VNC) */
  onFailed(reason: string): void;
}

/** Pure: the button mask the streamer wants (1 left, 2 middle, 4 right, 8 back, 16 forward) from PointerEvent.buttons. */
export function buttonMask(buttons: number): number {
  return (buttons & 1) | ((buttons & 4) >> 1) | ((buttons & 2) << 1) | (buttons & 8) | (buttons & 16);
}

/** Pure: a point in the element -> [0,1] of the remote screen, for a video drawn with object-fit: contain. */
export function videoPoint(px: number, py: number, box: { width: number; height: number }, video: { width: number; height: number }): { x: number; y: number } {
  if (!video.width || !video.height || !box.width || !box.height) return { x: 0, y: 0 };
  const scale = Math.min(box.width / video.width, box.height / video.height);
  const w = video.width * scale;
  const h = video.height * scale;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return { x: clamp((px - (box.width - w) / 2) / w), y: clamp((py - (box.height - h) / 2) / h) };
}

/** Keys the page must not act on while the desktop has focus (the browser would scroll, go back, find...). */
function shouldPrevent(e: KeyboardEvent): boolean {
  return !(e.key === 'F11' || (e.ctrlKey && e.shiftKey && e.key === 'I'));
}

export function openWebRtc(container: HTMLElement, connect: WebRtcConnect, handlers: StreamHandlers, hooks: StreamHooks, options: WebRtcOptions): DesktopStream {
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.className = 'webrtc-video';
  video.dataset.testid = 'webrtc-video';
  video.tabIndex = 0;
  container.replaceChildren(video);

  const pc = new RTCPeerConnection({ iceServers: connect.iceServers, ...(options.relayOnly ? { iceTransportPolicy: 'relay' as const } : {}) });
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  const capabilities = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
  if (capabilities.length) transceiver.setCodecPreferences(orderCapabilities(capabilities, options.codecs));
  // Show each frame as soon as it is decoded: no jitter buffer beyond what the network forces.
  const receiver = transceiver.receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null; playoutDelayHint?: number };
  try {
    receiver.jitterBufferTarget = 0;
  } catch {
    receiver.playoutDelayHint = 0;
  }
  // The desktop's sound: received always (the streamer captures nothing until asked), played by an
  // <audio> of its own, asked for with `a` on the input channel.
  const audioTransceiver = pc.addTransceiver('audio', { direction: 'recvonly' });
  try {
    (audioTransceiver.receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null }).jitterBufferTarget = 0;
  } catch {
    // older browsers: their default buffer
  }
  const audio = document.createElement('audio');
  audio.dataset.testid = 'desktop-sound';
  container.append(audio);
  let soundWanted = false;
  const channel = pc.createDataChannel(INPUT_CHANNEL, { ordered: true });
  const ws = new WebSocket(connect.url);

  let closedByUs = false;
  let connected = false;
  let done = false;
  const finish = (problem: string, fallback: boolean) => {
    if (done) return;
    done = true;
    cleanup();
    if (fallback) options.onFailed(problem);
    handlers.onDisconnect(problem, fallback);
  };

  const connectTimer = setTimeout(() => {
    if (!connected) finish(`WebRTC could not connect within ${Math.round((options.connectTimeoutMs ?? 6000) / 1000)} seconds: no network path to the desktop was found (a TURN server may be needed on this network).`, true);
  }, options.connectTimeoutMs ?? 6000);

  // ---- signalling ---------------------------------------------------------------------------
  ws.onopen = async () => {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    ws.send(JSON.stringify({ type: 'offer', sdp: offer.sdp }));
  };
  ws.onmessage = async (event) => {
    let parsed: ReturnType<typeof ServerSignal.safeParse>;
    try {
      parsed = ServerSignal.safeParse(JSON.parse(String(event.data)));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.type === 'answer') await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    else if (m.type === 'candidate') {
      if (m.candidate) await pc.addIceCandidate(m.candidate).catch(() => undefined);
    } else finish(m.message, true);
  };
  ws.onclose = (event) => {
    if (closedByUs || done) return;
    // Signalling ended before the media connected: nothing to wait for.
    if (!connected) finish(event.reason || 'The desktop did not answer the WebRTC offer.', true);
    else finish(event.reason || 'The desktop closed the connection.', false);
  };
  pc.onicecandidate = (e) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'candidate', candidate: e.candidate ? e.candidate.toJSON() : null }));
  };
  pc.ontrack = (e) => {
    if (e.track.kind === 'audio') audio.srcObject = new MediaStream([e.track]);
    else video.srcObject = new MediaStream([e.track]);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && !connected) {
      connected = true;
      clearTimeout(connectTimer);
      void video.play().catch(() => undefined);
      handlers.onConnect();
    } else if (pc.connectionState === 'failed') {
      finish(connected ? 'The WebRTC connection to the desktop was lost.' : 'WebRTC could not connect to the desktop.', !connected);
    }
  };

  // ---- a stall: no decoded frame for a while ---------------------------------------------------
  let lastFrames = -1;
  let lastProgress = Date.now();
  const stallTimer = setInterval(async () => {
    if (!connected || done) return;
    const frames = (await inboundVideo())?.framesDecoded ?? 0;
    if (frames !== lastFrames) {
      lastFrames = frames;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > (options.stallMs ?? 5000)) {
      finish(`The WebRTC picture stalled (no frame for ${Math.round((options.stallMs ?? 5000) / 1000)} seconds).`, true);
    }
  }, 1000);

  // ---- input ----------------------------------------------------------------------------------
  const send = (m: ClientChannelMessage) => {
    if (channel.readyState === 'open') channel.send(JSON.stringify(m));
  };
  // ---- fit to window: the area's size to the streamer (xrandr there), once the area rests ----
  let fit = false;
  let fitTimer: ReturnType<typeof setTimeout> | undefined;
  const askSize = () => {
    const r = fit ? resizeRequest(container.clientWidth, container.clientHeight) : undefined;
    if (r) send({ t: 'r', ...r });
  };
  const areaObserver = new ResizeObserver(() => {
    clearTimeout(fitTimer);
    fitTimer = setTimeout(askSize, RESIZE_SETTLE_MS);
  });
  areaObserver.observe(container);
  channel.addEventListener('open', askSize);
  channel.addEventListener('open', () => soundWanted && send({ t: 'a', on: true }));

  const pressed = new Set<number>();
  const onKey = (down: boolean) => (e: KeyboardEvent) => {
    const keysym = keysymOf(e);
    if (keysym === undefined) return;
    if (shouldPrevent(e)) e.preventDefault();
    if (down) pressed.add(keysym);
    else pressed.delete(keysym);
    send({ t: 'k', keysym, down });
  };
  const keydown = onKey(true);
  const keyup = onKey(false);
  const pointer = (e: PointerEvent) => {
    const rect = video.getBoundingClientRect();
    const p = videoPoint(e.clientX - rect.left, e.clientY - rect.top, rect, { width: video.videoWidth, height: video.videoHeight });
    send({ t: 'p', x: Number(p.x.toFixed(5)), y: Number(p.y.toFixed(5)), b: buttonMask(e.buttons) });
  };
  const pointerdown = (e: PointerEvent) => {
    video.focus();
    video.setPointerCapture(e.pointerId);
    pointer(e);
    e.preventDefault();
  };
  let wheelY = 0;
  let wheelX = 0;
  const wheel = (e: WheelEvent) => {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
    wheelY += e.deltaY * unit;
    wheelX += e.deltaX * unit;
    const dy = Math.trunc(wheelY / 100);
    const dx = Math.trunc(wheelX / 100);
    if (dx || dy) {
      wheelY -= dy * 100;
      wheelX -= dx * 100;
      send({ t: 'w', dx: Math.max(-50, Math.min(50, dx)), dy: Math.max(-50, Math.min(50, dy)) });
    }
  };
  const blur = () => {
    if (pressed.size) send({ t: 'u' });
    pressed.clear();
  };
  const noMenu = (e: Event) => e.preventDefault();
  video.addEventListener('keydown', keydown);
  video.addEventListener('keyup', keyup);
  video.addEventListener('pointermove', pointer);
  video.addEventListener('pointerdown', pointerdown);
  video.addEventListener('pointerup', pointer);
  video.addEventListener('wheel', wheel, { passive: false });
  video.addEventListener('blur', blur);
  video.addEventListener('contextmenu', noMenu);

  channel.onmessage = (event) => {
    let parsed: ReturnType<typeof StreamerMessage.safeParse>;
    try {
      parsed = StreamerMessage.safeParse(JSON.parse(String(event.data)));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.t === 'c') hooks.onClipboard(m.text);
    else if (m.t === 'cursor') video.style.cursor = `url(data:image/png;base64,${m.png}) ${m.x} ${m.y}, default`;
    else if (m.t === 'encoder') video.dataset.codec = m.codec;
    else if (m.t === 'audio') hooks.onSound?.({ available: m.available, on: m.on, ...(m.message ? { message: m.message } : {}) });
  };

  // ---- stats ----------------------------------------------------------------------------------
  async function inboundVideo(): Promise<(RTCInboundRtpStreamStats & Record<string, unknown>) | undefined> {
    const report = await pc.getStats();
    let found: (RTCInboundRtpStreamStats & Record<string, unknown>) | undefined;
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') found = r;
    });
    return found;
  }
  let prevBytes = 0;
  let prevAt = 0;
  async function stats(): Promise<StreamStats> {
    const report = await pc.getStats();
    const s: StreamStats = { protocol: 'webrtc' };
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.packetsReceived > 0) {
        const codec = r.codecId ? report.get(r.codecId) : undefined;
        if (codec?.mimeType) s.audioCodec = String(codec.mimeType).replace('audio/', '');
        if (typeof r.audioLevel === 'number') s.audioLevel = r.audioLevel;
      }
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        const codec = r.codecId ? report.get(r.codecId) : undefined;
        if (codec?.mimeType) s.codec = String(codec.mimeType).replace('video/', '');
        if (r.decoderImplementation) s.decoder = r.decoderImplementation;
        if (r.powerEfficientDecoder !== undefined) s.hardwareDecoder = r.powerEfficientDecoder;
        s.width = r.frameWidth;
        s.height = r.frameHeight;
        s.fps = r.framesPerSecond;
        s.packetsLost = r.packetsLost;
        if (r.jitter !== undefined) s.jitterMs = Math.round(r.jitter * 1000);
        const now = performance.now();
        if (prevAt) s.kbps = Math.round(((r.bytesReceived - prevBytes) * 8) / (now - prevAt));
        prevBytes = r.bytesReceived;
        prevAt = now;
        if (r.jitterBufferEmittedCount) s.receiverDelayMs = Math.round(((r.jitterBufferDelay ?? 0) / r.jitterBufferEmittedCount) * 1000 + ((r.totalDecodeTime ?? 0) / Math.max(1, r.framesDecoded ?? 1)) * 1000);
      } else if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) {
        if (r.currentRoundTripTime !== undefined) s.rttMs = Math.round(r.currentRoundTripTime * 1000);
        const local = report.get(r.localCandidateId);
        const remote = report.get(r.remoteCandidateId);
        if (local && remote) s.path = `${local.candidateType} ${local.protocol} -> ${remote.candidateType}`;
      }
    });
    return s;
  }

  function cleanup() {
    clearTimeout(connectTimer);
    clearTimeout(fitTimer);
    areaObserver.disconnect();
    clearInterval(stallTimer);
    video.removeEventListener('keydown', keydown);
    video.removeEventListener('keyup', keyup);
    video.removeEventListener('pointermove', pointer);
    video.removeEventListener('pointerdown', pointerdown);
    video.removeEventListener('pointerup', pointer);
    video.removeEventListener('wheel', wheel);
    video.removeEventListener('blur', blur);
    video.removeEventListener('contextmenu', noMenu);
    closedByUs = true;
    try {
      ws.close(1000);
    } catch {
      // closed
    }
    pc.close();
    video.srcObject = null;
    video.remove();
    audio.srcObject = null;
    audio.remove();
  }

  return {
    protocol: 'webrtc',
    focus: () => video.focus(),
    sendKeys(keysyms) {
      for (const k of keysyms) send({ t: 'k', keysym: k, down: true });
      for (const k of [...keysyms].reverse()) send({ t: 'k', keysym: k, down: false });
    },
    sendClipboard: (text) => send({ t: 'c', text }),
    fitToWindow(on) {
      fit = on;
      askSize();
    },
    setSound(on) {
      soundWanted = on;
      if (on) void audio.play().catch(() => undefined);
      else audio.pause();
      send({ t: 'a', on });
    },
    stats,
    close() {
      done = true;
      cleanup();
    },
  };
}
