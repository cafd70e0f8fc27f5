/**
 * One viewer's WebRTC connection (node-datachannel, libdatachannel underneath): the browser offers,
 * we answer with one video track carrying the picked codec at the offer's payload type, and the RTP the
 * encoder makes passes through; when the offer has an Opus audio section, an audio track too (sendonly
 * when the desktop has sound, inactive otherwise), in a stream of its own so the browser does not hold
 * the picture back to line it up with the sound. The browser's RTCP feedback (PLI, FIR, REMB, NACK,
 * reports) comes back as events; NACKed packets are resent from our own history (retransmit.ts).
 */
import { Audio, PeerConnection, Video, type IceServer, type Track } from 'node-datachannel';
import type { IceCandidateInit, IceServerConfig } from '../contract/webrtc.js';
import { answerFmtp, type PickedOpus } from './audio.js';
import type { PickedCodec } from './codec.js';
import { Retransmitter } from './retransmit.js';
import { parseRtcp, type Feedback } from './rtcp.js';
import { playoutDelayExtension, withHeaderExtension } from './rtp.js';

export interface PeerEvents {
  answer(sdp: string): void;
  candidate(c: IceCandidateInit | null): void;
  /** 'connected', 'disconnected', 'failed', 'closed' */
  state(state: string): void;
  /** the media path is up (DTLS done): a key frame now, or the receiver waits for one */
  ready(): void;
  feedback(f: Feedback): void;
  channelOpen(label: string, send: (text: string) => boolean): void;
  channelMessage(label: string, text: string): void;
  log(msg: string): void;
}

export interface PeerOptions {
  iceServers: IceServerConfig[];
  /** gather only on this address (tests in a loopback-only namespace) */
  bindAddress?: string;
  relayOnly?: boolean;
  /** UDP ports to gather on (a firewall opens just these) */
  ports?: { first: number; last: number };
  ssrc: number;
  /** what resending lost packets may add to the media, in kbit/s (asked at each NACK) */
  resendBudgetKbps: () => number;
}

/** The audio section of the answer: Opus at the offer's payload type, sent from `ssrc` when `send`. */
export interface AnswerAudio {
  opus: PickedOpus;
  ssrc: number;
  send: boolean;
}

const CODEC_SDP_NAME = { h264: 'H264', vp8: 'VP8', vp9: 'VP9', av1: 'AV1' } as const;
export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/** Pure: node-datachannel's ICE servers from the browser-style list (`turn:host:port?transport=udp`, `stun:host:port`). */
export function toNdcIceServers(servers: IceServerConfig[]): Array<string | IceServer> {
  const out: Array<string | IceServer> = [];
  for (const s of servers) {
    for (const url of Array.isArray(s.urls) ? s.urls : [s.urls]) {
      const m = /^(stuns?|turns?):([^:?]+|\[[^\]]+\]):?(\d+)?(?:\?transport=(udp|tcp))?$/.exec(url);
      if (!m) continue;
      const [, scheme, host, port, transport] = m;
      const hostname = host!.replace(/^\[|\]$/g, '');
      if (scheme!.startsWith('stun')) out.push(`${scheme}:${hostname}:${port ?? 3478}`);
      else {
        // libjuice's TURN client (the prebuilt binary) speaks UDP only; the browser can still use TCP/TLS.
        if (scheme === 'turns' || transport === 'tcp') continue;
        out.push({ hostname, port: Number(port ?? 3478), ...(s.username ? { username: s.username } : {}), ...(s.credential ? { password: s.credential } : {}), relayType: 'TurnUdp' });
      }
    }
  }
  return out;
}

/** Pure: the extmap id the offer gives the playout-delay extension in its video section, if any. */
export function playoutDelayId(offerSdp: string): number | undefined {
  const video = offerSdp.split(/\r?\nm=/).find((s) => s.startsWith('video ') || s.startsWith('m=video '));
  const m = video && new RegExp(`a=extmap:(\\d+)(?:/\\S+)? ${PLAYOUT_DELAY_URI.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`).exec(video);
  return m ? Number(m[1]) : undefined;
}

export class Peer {
  private readonly pc: PeerConnection;
  private track?: Track;
  private open = false;
  private audioTrack?: Track;
  private audioOpen = false;
  private extension?: Buffer;
  packetsSent = 0;
  /** media and resent packets */
  bytesSent = 0;
  private readonly resend: Retransmitter;
  audioPacketsSent = 0;

  constructor(
    private readonly o: PeerOptions,
    private readonly ev: PeerEvents,
  ) {
    this.resend = new Retransmitter(o.resendBudgetKbps);
    this.pc = new PeerConnection('porthole-streamer', {
      iceServers: toNdcIceServers(o.iceServers),
      ...(o.bindAddress ? { bindAddress: o.bindAddress } : {}),
      ...(o.ports ? { portRangeBegin: o.ports.first, portRangeEnd: o.ports.last } : {}),
      iceTransportPolicy: o.relayOnly ? 'relay' : 'all',
      // Our answer's video section is shaped by hand (one codec, our SSRC) before it is generated.
      disableAutoNegotiation: true,
    });
    this.pc.onLocalCandidate((candidate, mid) => ev.candidate({ candidate, sdpMid: mid }));
    this.pc.onGatheringStateChange((state) => state === 'complete' && ev.candidate(null));
    this.pc.onStateChange((state) => ev.state(state));
    this.pc.onDataChannel((dc) => {
      const label = dc.getLabel();
      const send = (text: string) => dc.isOpen() && dc.sendMessage(text);
      dc.onMessage((m) => ev.channelMessage(label, typeof m === 'string' ? m : Buffer.from(m as ArrayBuffer).toString('utf8')));
      if (dc.isOpen()) ev.channelOpen(label, send);
      else dc.onOpen(() => ev.channelOpen(label, send));
    });
  }

  /** The browser's offer in; the answer goes out through events. */
  answer(offerSdp: string, codec: PickedCodec, audio?: AnswerAudio): void {
    this.pc.setRemoteDescription(offerSdp, 'offer');
    const video = new Video(codec.mid, 'SendOnly');
    if (codec.fmtp) video.addVideoCodec(codec.payloadType, CODEC_SDP_NAME[codec.name], codec.fmtp);
    else video.addVideoCodec(codec.payloadType, CODEC_SDP_NAME[codec.name]);
    if (codec.rtxPayloadType !== undefined) video.addRTXCodec(codec.rtxPayloadType, codec.payloadType, codec.clockRate);
    video.addSSRC(this.o.ssrc, 'porthole', 'porthole-desktop', 'porthole-video');
    // Ask the receiver to show each frame as soon as it is decoded (min = max = 0 playout delay).
    const pdId = playoutDelayId(offerSdp);
    if (pdId !== undefined) {
      video.parseSdpLine(`a=extmap:${pdId} ${PLAYOUT_DELAY_URI}`);
      this.extension = playoutDelayExtension(pdId, 0, 0);
    }
    const track = this.pc.addTrack(video);
    this.track = track;
    // NACKed packets are resent here (retransmit.ts), not by libdatachannel's responder, which resends
    // every packet as often as it is asked, whatever the link.
    track.onOpen(() => {
      this.open = true;
      this.ev.log('video track open');
      this.ev.ready();
    });
    track.onClosed(() => (this.open = false));
    track.onMessage((msg) => {
      for (const f of parseRtcp(msg)) {
        if (f.kind === 'nack') for (const p of this.resend.nack(f.lost, Date.now())) this.sendOnTrack(p);
        this.ev.feedback(f);
      }
    });
    if (audio) this.addAudio(audio);
    this.pc.setLocalDescription('answer');
    const local = this.pc.localDescription();
    if (!local) throw new Error('libdatachannel made no answer');
    this.ev.answer(local.sdp);
  }

  private addAudio({ opus, ssrc, send }: AnswerAudio): void {
    const media = new Audio(opus.mid, send ? 'SendOnly' : 'Inactive');
    media.addOpusCodec(opus.payloadType, answerFmtp(opus.fmtp));
    if (send) media.addSSRC(ssrc, 'porthole', 'porthole-sound', 'porthole-audio');
    const track = this.pc.addTrack(media);
    this.audioTrack = track;
    track.onOpen(() => {
      this.audioOpen = true;
      this.ev.log('audio track open');
    });
    track.onClosed(() => (this.audioOpen = false));
    // The receiver's reports about the sound are not the picture's: they do not steer the video bitrate.
    track.onMessage(() => undefined);
  }

  /** An Opus RTP packet from the audio capture (dropped until the track is open). */
  sendAudioRtp(packet: Buffer): void {
    if (!this.audioOpen || !this.audioTrack) return;
    if (!sendIfOpen(this.audioTrack, packet)) {
      this.audioOpen = false;
      return;
    }
    this.audioPacketsSent++;
  }

  addRemoteCandidate(c: IceCandidateInit | null): void {
    if (!c?.candidate) return;
    this.pc.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
  }

  /**
   * An RTP packet from the encoder: to the browser (dropped until DTLS is up; the receiver then asks for
   * a key frame). Says whether it went out.
   */
  sendRtp(packet: Buffer): boolean {
    if (!this.open || !this.track) return false;
    const out = this.extension ? withHeaderExtension(packet, this.extension) : packet;
    this.packetsSent++;
    this.resend.sent(out);
    this.sendOnTrack(out);
    return true;
  }

  /** The encoder was asked for a key frame: stop repairing what came before it. */
  keyframeComing(): void {
    this.resend.keyframeComing();
  }

  private sendOnTrack(packet: Buffer): void {
    this.bytesSent += packet.length;
    if (this.track && !sendIfOpen(this.track, packet)) this.open = false;
  }

  selectedPair(): string | undefined {
    const pair = this.pc.getSelectedCandidatePair();
    return pair ? `${pair.local.type} ${pair.local.address}:${pair.local.port} <-> ${pair.remote.type} ${pair.remote.address}:${pair.remote.port} (${pair.local.transportType})` : undefined;
  }

  close(): void {
    for (const track of [this.track, this.audioTrack]) {
      try {
        track?.close();
      } catch {
        // closed
      }
    }
    try {
      this.pc.close();
    } catch {
      // closed
    }
  }
}

/**
 * Sends on a track unless it has closed. The track's onClosed comes from libdatachannel's thread, so a
 * packet can still be on its way after the peer went: libdatachannel then throws "Track is closed",
 * which would end the streamer. Says whether it went out.
 */
function sendIfOpen(track: { isOpen(): boolean; sendMessageBinary(b: Buffer): boolean }, packet: Buffer): boolean {
  if (!track.isOpen()) return false;
  try {
    track.sendMessageBinary(packet);
    return true;
  } catch {
    return false;
  }
}
