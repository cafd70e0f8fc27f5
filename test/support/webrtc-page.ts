/**
 * A minimal WebRTC receiver for tests, run in Debian's Chromium: offers a recvonly video with a chosen
 * codec first (setCodecPreferences), a DataChannel "input", with `audio: true` a recvonly audio too
 * (played by an <audio> element; the page's "Sound" button, clicked by the test, is the user gesture
 * that lets it play and asks the streamer for sound), and does the DESIGN.md signalling on a
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
    const audioTr = opts.audio ? pc.addTransceiver('audio', { direction: 'recvonly' }) : null;
    if (audioTr) audioTr.receiver.jitterBufferTarget = 0;
    const dc = pc.createDataChannel('input');
    const state = { pc, dc, audioTr, messages: [], audioStates: [], errors: [], closed: null, video: document.createElement('video'), audio: document.createElement('audio'), soundOn: false };
    state.video.autoplay = true; state.video.muted = true; document.body.append(state.video);
    document.body.append(state.audio);
    const button = document.createElement('button');
    button.id = 'sound'; button.textContent = 'Sound'; document.body.append(button);
    button.onclick = () => { state.soundOn = !state.soundOn; if (state.soundOn) state.audio.play().catch((e) => state.errors.push({ type: 'play', code: 'play', message: String(e) })); dc.send(JSON.stringify({ t: 'a', on: state.soundOn })); };
    state.button = button;
    dc.onmessage = (e) => { const m = JSON.parse(e.data); state.messages.push(m); if (m.t === 'audio') state.audioStates.push(m); };
    pc.ontrack = (e) => { if (e.track.kind === 'audio') state.audio.srcObject = new MediaStream([e.track]); else state.video.srcObject = new MediaStream([e.track]); };
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
    const out = { state: s.pc.connectionState, width: s.video.videoWidth, height: s.video.videoHeight, errors: s.errors, closed: s.closed, messages: s.messages.map((m) => m.t), audioStates: s.audioStates, audioDirection: s.audioTr ? s.audioTr.currentDirection : undefined };
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.framesDecoded = r.framesDecoded || 0; out.bytesReceived = r.bytesReceived || 0; out.packetsLost = r.packetsLost || 0;
        out.codec = r.codecId && report.get(r.codecId) ? report.get(r.codecId).mimeType : undefined;
        out.fps = r.framesPerSecond;
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.audioCodec = r.codecId && report.get(r.codecId) ? report.get(r.codecId).mimeType : undefined;
        out.audioPackets = r.packetsReceived || 0; out.audioEnergy = r.totalAudioEnergy || 0; out.audioLevel = r.audioLevel || 0;
        out.audioSamples = r.totalSamplesReceived || 0; out.audioConcealed = r.concealedSamples || 0;
        out.audioJitterBufferMs = r.jitterBufferEmittedCount ? (r.jitterBufferDelay / r.jitterBufferEmittedCount) * 1000 : undefined;
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
  stop() { const s = window.rx; if (!s) return; s.ws.close(); s.pc.close(); s.video.remove(); s.audio.remove(); s.button.remove(); window.rx = undefined; },
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
  /** the streamer's "audio" messages, in order */
  audioStates: Array<{ t: 'audio'; available: boolean; on: boolean; message?: string }>;
  audioDirection?: string | null;
  audioCodec?: string;
  audioPackets?: number;
  audioEnergy?: number;
  audioLevel?: number;
  audioSamples?: number;
  audioConcealed?: number;
  audioJitterBufferMs?: number;
}

/** The receiver on a page (once), opened on `origin` so WebSockets to the agent are same-origin. */
export async function installReceiver(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/healthz`);
  await page.evaluate(RECEIVER_JS);
}

export const receiverStats = (page: Page): Promise<ReceiverStats> => page.evaluate('window.receiver.stats()') as Promise<ReceiverStats>;
