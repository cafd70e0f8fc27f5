/**
 * A minimal WebRTC receiver for tests, run in Debian's Chromium: offers a recvonly video with a chosen
 * codec first (setCodecPreferences), a DataChannel "input", and does the DESIGN.md signalling on a
 * stream URL. Installed into a page as plain JavaScript (a string, so no bundler helpers leak in).
 * The launcher's own receiver is renderer/src/session/webrtcStream.ts; the e2e test drives that one.
 */
import type { Page } from 'playwright-core';

export const RECEIVER_JS = `
window.receiver = {
  async start(url, codec, opts = {}) {
    const pc = new RTCPeerConnection({ iceServers: opts.iceServers || [], iceTransportPolicy: opts.relayOnly ? 'relay' : 'all' });
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    const caps = RTCRtpReceiver.getCapabilities('video').codecs;
    const first = caps.filter((c) => c.mimeType.toLowerCase() === 'video/' + codec.toLowerCase());
    tr.setCodecPreferences([...first, ...caps.filter((c) => !first.includes(c))]);
    tr.receiver.jitterBufferTarget = 0;
    const dc = pc.createDataChannel('input');
    const state = { pc, dc, messages: [], errors: [], closed: null, video: document.createElement('video') };
    state.video.autoplay = true; state.video.muted = true; document.body.append(state.video);
    dc.onmessage = (e) => state.messages.push(JSON.parse(e.data));
    pc.ontrack = (e) => { state.video.srcObject = new MediaStream([e.track]); };
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onmessage = async (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'answer') await pc.setRemoteDescription(m);
      else if (m.type === 'candidate') { if (m.candidate) await pc.addIceCandidate(m.candidate).catch(() => {}); }
      else state.errors.push(m);
    };
    ws.onclose = (e) => { state.closed = { code: e.code, reason: e.reason }; };
    pc.onicecandidate = (e) => { if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'candidate', candidate: e.candidate ? e.candidate.toJSON() : null })); };
    ws.onopen = async () => { const o = await pc.createOffer(); await pc.setLocalDescription(o); ws.send(opts.rawFirst || JSON.stringify({ type: 'offer', sdp: o.sdp })); };
    window.rx = state;
    return true;
  },
  async stats() {
    const s = window.rx; if (!s) return {};
    const report = await s.pc.getStats();
    const out = { state: s.pc.connectionState, width: s.video.videoWidth, height: s.video.videoHeight, errors: s.errors, closed: s.closed, messages: s.messages.map((m) => m.t) };
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.framesDecoded = r.framesDecoded || 0; out.bytesReceived = r.bytesReceived || 0; out.packetsLost = r.packetsLost || 0;
        out.codec = r.codecId && report.get(r.codecId) ? report.get(r.codecId).mimeType : undefined;
        out.fps = r.framesPerSecond;
      }
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
        const l = report.get(r.localCandidateId), rem = report.get(r.remoteCandidateId);
        out.path = (l && l.candidateType) + '->' + (rem && rem.candidateType);
      }
    });
    return out;
  },
  send(message) { window.rx.dc.send(JSON.stringify(message)); },
  keys(text) {
    for (const ch of text) { const k = ch === '\\n' ? 0xff0d : ch.charCodeAt(0); window.rx.dc.send(JSON.stringify({ t: 'k', keysym: k, down: true })); window.rx.dc.send(JSON.stringify({ t: 'k', keysym: k, down: false })); }
  },
  stop() { const s = window.rx; if (!s) return; s.ws.close(); s.pc.close(); s.video.remove(); window.rx = undefined; },
};`;

export interface ReceiverStats {
  state?: string;
  width?: number;
  height?: number;
  framesDecoded?: number;
  bytesReceived?: number;
  packetsLost?: number;
  codec?: string;
  fps?: number;
  path?: string;
  errors: Array<{ type: string; code: string; message: string }>;
  closed: { code: number; reason: string } | null;
  messages: string[];
}

/** The receiver on a page (once), opened on `origin` so WebSockets to the agent are same-origin. */
export async function installReceiver(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/healthz`);
  await page.evaluate(RECEIVER_JS);
}

export const receiverStats = (page: Page): Promise<ReceiverStats> => page.evaluate('window.receiver.stats()') as Promise<ReceiverStats>;
