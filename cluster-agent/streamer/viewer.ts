/**
 * One viewer, from its signalling socket to its last packet: the agent's hello (ICE servers), the
 * browser's offer -> codec -> encoder + peer -> answer, trickle candidates both ways, RTCP feedback
 * into key frames and bitrate, DataChannel input into the desktop, the sound switch (audio.ts) into
 * a capture of the desktop's sound. Ends everything when either the signalling socket or the peer
 * connection ends.
 */
import { randomInt } from 'node:crypto';
import type { WebSocket } from 'ws';
import { ClientChannelMessage, ClientSignal, INPUT_CHANNEL, SIGNAL_CLOSE, StreamerHello, type InputMessage, type ServerSignal, type StreamerMessage } from '../contract/webrtc.js';
import { pickOpus, Sound, type AudioSetup } from './audio.js';
import { decide, initialState, withEstimate, withLoss, type BitrateLimits, type BitrateState } from './bitrate.js';
import { pickCodec, type CodecName } from './codec.js';
import { Encoder, type EncoderStats } from './encoder.js';
import { LossMeter } from './loss-meter.js';
import { Peer } from './peer.js';

export interface DesktopLink {
  /** apply one input message to the desktop */
  input(message: InputMessage): void;
  /** send to every open input channel (clipboard, cursor, screen size) */
  subscribe(send: (m: StreamerMessage) => void): () => void;
}

export interface ViewerOptions {
  encoderHelper: string;
  codecs: ReadonlySet<CodecName>;
  limits: BitrateLimits;
  implementation: string;
  bindAddress?: string;
  ports?: { first: number; last: number };
  env: NodeJS.ProcessEnv;
  desktop: DesktopLink;
  /** how to capture the desktop's sound (or why there is none); settled before the first offer is answered */
  audio: Promise<AudioSetup>;
  log: (msg: string, extra?: Record<string, unknown>) => void;
}

const OFFER_TIMEOUT_MS = 15_000;
/** what a cut leaves in the network's queue drains within this (a 100 ms queue is common) */
const QUEUE_DRAIN_MS = 100;
const RESEND_SHARE = 0.5;
/** a key frame a frame after it is asked for, and no sooner than this after the last one */
const KEYFRAME_DELAY_MS = 20;
const KEYFRAME_SPACING_MS = 500;
const LOSSY_MS = 2000;
const HEAVY_LOSS = 0.2;

export function runViewer(ws: WebSocket, o: ViewerOptions): void {
  let hello: StreamerHello | undefined;
  let peer: Peer | undefined;
  let encoder: Encoder | undefined;
  let sound: Sound | undefined;
  let state: BitrateState | undefined;
  let lastStats: EncoderStats | undefined;
  let controlTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let sendAudioState: ((m: StreamerMessage) => void) | undefined;
  let ended = false;
  let answered = false;
  const early: ClientSignal[] = [];
  // Which packets the receiver asked for again, against what was sent (loss-meter.ts).
  const loss = new LossMeter();
  let sawNack = false;
  /** The loss of what was sent since the last cut, once the old burst has left the network's queue. */
  const lossNow = (now: number) => loss.fraction(now, (state?.lastLossCut ?? Number.NEGATIVE_INFINITY) + QUEUE_DRAIN_MS);
  const send = (m: ServerSignal) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));

  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    clearTimeout(offerTimer);
    clearTimeout(keyframeTimer);
    if (controlTimer) clearInterval(controlTimer);
    unsubscribe?.();
    // A viewer that vanished mid-keypress (tab closed, network gone) must not leave Ctrl held down.
    if (answered) o.desktop.input({ t: 'u' });
    encoder?.stop();
    sound?.stop();
    peer?.close();
    if (ws.readyState === ws.OPEN) ws.close(code, reason.slice(0, 120));
    o.log('viewer ended', { reason });
  };
  const fail = (code: number, errorCode: string, message: string) => {
    send({ type: 'error', code: errorCode, message });
    end(code, message);
  };
  const offerTimer = setTimeout(() => fail(SIGNAL_CLOSE.badMessage, 'no_offer', 'No offer arrived within 15 seconds'), OFFER_TIMEOUT_MS);

  const onOffer = async (sdp: string) => {
    if (peer) return fail(SIGNAL_CLOSE.badMessage, 'bad_message', 'One offer per connection; open a new one to renegotiate');
    clearTimeout(offerTimer);
    const codec = pickCodec(sdp, o.codecs);
    if (!codec) return fail(SIGNAL_CLOSE.noCodec, 'no_codec', `None of the offered video codecs can be sent; this desktop sends ${[...o.codecs].join(', ')}`);
    const ssrc = randomInt(1, 2 ** 32 - 1);
    let audioSsrc = randomInt(1, 2 ** 32 - 1);
    while (audioSsrc === ssrc) audioSsrc = randomInt(1, 2 ** 32 - 1);
    const opus = pickOpus(sdp);
    const audioSetup = await o.audio;
    if (ended) return;
    const limits = o.limits;
    state = initialState(limits, Date.now());
    peer = new Peer(
      {
        iceServers: hello!.iceServers,
        ssrc,
        // Repairs may add half the media's rate: enough for a key frame's lost packets, not a storm.
        resendBudgetKbps: () => (state?.targetKbps ?? limits.startKbps) * RESEND_SHARE,
        ...(o.bindAddress ? { bindAddress: o.bindAddress } : {}),
        ...(o.ports ? { ports: o.ports } : {}),
      },
      {
        answer: (answerSdp) => send({ type: 'answer', sdp: answerSdp }),
        candidate: (candidate) => send({ type: 'candidate', candidate }),
        state: (s) => {
          o.log(`peer ${s}`, { pair: peer?.selectedPair() });
          if (s === 'failed' || s === 'closed') end(1000, `The WebRTC connection ${s}`);
        },
        ready: () => keyframeSoon(),
        feedback: (f) => {
          if (!state) return;
          if (f.kind === 'pli' || f.kind === 'fir') {
            // A loss burst often asks for a key frame: apply the lower bitrate first, then make the
            // key frame (a frame later), or a key frame sized for the old link is lost as well.
            control();
            keyframeSoon();
          }
          else if (f.kind === 'remb') {
            state = withEstimate(state, f.bitrate / 1000, Date.now());
            control();
          } else if (f.kind === 'report') {
            // A receiver report's loss covers a second or more, before and after a cut: used only by a
            // receiver that sends no NACKs (the NACK count is measured on what each cut sent).
            if (!sawNack) state = withLoss(state, f.fractionLost, Date.now());
            control();
          } else if (f.kind === 'nack') {
            sawNack = true;
            loss.nack(f.lost);
            control();
          }
        },
        channelOpen: (label, sendText) => {
          if (label !== INPUT_CHANNEL) return;
          unsubscribe?.();
          unsubscribe = o.desktop.subscribe((m) => sendText(JSON.stringify(m)));
          sendText(JSON.stringify({ t: 'encoder', codec: codec.name, implementation: encoder?.readyLine.split(' ')[3] ?? o.implementation, bitrateKbps: state?.targetKbps ?? 0, fps: state?.fps ?? 0 }));
          sendAudioState = (m) => sendText(JSON.stringify(m));
          if (sound) sendAudioState(sound.current());
        },
        channelMessage: (label, text) => {
          if (label !== INPUT_CHANNEL) return;
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            return;
          }
          const parsed = ClientChannelMessage.safeParse(json);
          if (!parsed.success) return;
          if (parsed.data.t === 'a') sound?.set(parsed.data.on);
          else o.desktop.input(parsed.data satisfies InputMessage);
        },
        log: (msg) => o.log(msg),
      },
    );
    encoder = new Encoder({
      helper: o.encoderHelper,
      codec: codec.name,
      payloadType: codec.payloadType,
      ssrc,
      bitrateKbps: state.targetKbps,
      fps: state.fps,
      implementation: o.implementation,
      env: o.env,
      // Counted for loss only once it really went out: packets dropped before DTLS was up are never NACKed.
      onRtp: (packet) => peer?.sendRtp(packet) && loss.sent(packet.readUInt16BE(2), Date.now()),
      onStats: (s) => (lastStats = s),
      onExit: (why) => !ended && fail(SIGNAL_CLOSE.streamerUnavailable, 'encoder_failed', `The desktop's encoder stopped: ${why}`),
      log: (msg) => o.log(`encoder: ${msg}`),
    });
    sound = new Sound({
      setup: audioSetup,
      opus,
      ssrc: audioSsrc,
      env: o.env,
      sendRtp: (packet) => peer?.sendAudioRtp(packet),
      state: (m) => sendAudioState?.(m),
      log: (msg) => o.log(msg),
    });
    try {
      await encoder.start();
    } catch (err) {
      return fail(SIGNAL_CLOSE.streamerUnavailable, 'encoder_failed', `The desktop's encoder could not start: ${(err as Error).message}`);
    }
    if (ended) return;
    try {
      peer.answer(sdp, codec, opus ? { opus, ssrc: audioSsrc, send: sound.available } : undefined);
    } catch (err) {
      return fail(SIGNAL_CLOSE.badMessage, 'bad_offer', `The offer could not be answered: ${(err as Error).message}`);
    }
    answered = true;
    o.log('answered', { codec: codec.name, payloadType: codec.payloadType, audio: opus ? (sound.available ? `opus/${opus.payloadType}` : 'inactive') : 'not offered' });
    for (const c of early.splice(0)) if (c.type === 'candidate') peer.addRemoteCandidate(c.candidate);
    // Four times a second, and at once when the receiver reports loss or a falling estimate: what
    // arrived from the receiver -> the encoder's target bitrate and frame rate.
    controlTimer = setInterval(control, 250);
  };

  // While the link is losing packets (a loss cut in the last LOSSY_MS), at most one key frame per
  // KEYFRAME_SPACING_MS: the receiver asks again every 200 ms while one is on its way, and each new
  // one (a burst on a link already full) would be lost in turn while the last one's repairs were
  // still coming. Otherwise at once (a frame later), as the receiver asks.
  let lastKeyframe = Number.NEGATIVE_INFINITY;
  let keyframeTimer: NodeJS.Timeout | undefined;
  function keyframeSoon(delayMs = KEYFRAME_DELAY_MS): void {
    if (keyframeTimer) return;
    const now = Date.now();
    const lossy = state !== undefined && now - state.lastLossCut < LOSSY_MS;
    const wait = Math.max(delayMs, lossy ? lastKeyframe + KEYFRAME_SPACING_MS - now : 0);
    keyframeTimer = setTimeout(() => {
      keyframeTimer = undefined;
      lastKeyframe = Date.now();
      peer?.keyframeComing();
      encoder?.keyframe();
    }, wait);
  }

  let lastControl = 0;
  function control(): void {
    if (!state || !encoder) return;
    const now = Date.now();
    if (now - lastControl < 50) return;
    lastControl = now;
    const measured = lossNow(now);
    if (measured !== undefined) state = withLoss(state, measured, now);
    loss.prune(now - 2000);
    const next = decide(state, o.limits, lastStats?.kbps ?? 0, now);
    if (next.targetKbps !== state.targetKbps) {
      encoder.setBitrate(next.targetKbps);
      o.log('bitrate', { targetKbps: next.targetKbps, estimateKbps: next.estimateKbps, loss: next.loss, sentKbps: lastStats?.kbps, fps: next.fps });
    }
    if (next.fps !== state.fps) encoder.setFps(next.fps);
    // A cut for heavy loss: a key frame at the new bitrate repairs the picture at once. Repairing
    // every frame of the burst before it would take seconds on the smaller link, and the receiver
    // would keep asking for them instead of a key frame (Chromium waits up to 3 s).
    // Nothing sent until now is worth repairing any more (the key frame replaces it), so the link is
    // left to the new bitrate; the key frame goes once the old burst has left the network's queue (one
    // sent into a full queue is lost too).
    if (next.lastLossCut === now && (state.loss ?? 0) >= HEAVY_LOSS) {
      peer?.keyframeComing();
      keyframeSoon(QUEUE_DRAIN_MS + KEYFRAME_DELAY_MS);
    }
    state = next;
  }

  ws.on('message', (data, isBinary) => {
    if (ended) return;
    let json: unknown;
    try {
      json = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      json = undefined;
    }
    if (!hello) {
      const h = StreamerHello.safeParse(json);
      if (!h.success) return fail(SIGNAL_CLOSE.badMessage, 'bad_message', 'The first frame must be the agent\'s hello');
      hello = h.data;
      o.log('viewer connected', { viewer: hello.viewer });
      return;
    }
    const signal = ClientSignal.safeParse(json);
    if (!signal.success) return fail(SIGNAL_CLOSE.badMessage, 'bad_message', 'Not a signalling message');
    if (signal.data.type === 'offer') void onOffer(signal.data.sdp);
    else if (answered) peer!.addRemoteCandidate(signal.data.candidate);
    else early.push(signal.data);
  });
  ws.on('close', () => end(1000, 'The signalling connection closed'));
  ws.on('error', () => end(1011, 'The signalling connection failed'));
}
