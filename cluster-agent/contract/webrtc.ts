/**
 * The WebRTC stream's wire formats, shared by the renderer, the agent's signalling relay and the
 * streamer: signalling frames on `GET /sessions/{id}/webrtc` (DESIGN.md, "WebRTC signalling") and the
 * messages on the stream's DataChannels. Zod only, like the rest of the contract.
 */
import { z } from 'zod';

const Sdp = z.string().min(1).max(64 * 1024);

export const IceCandidateInit = z.object({
  candidate: z.string().max(2048),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().nonnegative().max(64).nullable().optional(),
});
export type IceCandidateInit = z.infer<typeof IceCandidateInit>;

/** What the client may send on the signalling socket. */
export const ClientSignal = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer'), sdp: Sdp }),
  z.object({ type: z.literal('candidate'), candidate: IceCandidateInit.nullable() }),
]);
export type ClientSignal = z.infer<typeof ClientSignal>;

/** What the client receives: the streamer's answer and candidates, or an error before a 4xxx close. */
export const ServerSignal = z.discriminatedUnion('type', [
  z.object({ type: z.literal('answer'), sdp: Sdp }),
  z.object({ type: z.literal('candidate'), candidate: IceCandidateInit.nullable() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ServerSignal = z.infer<typeof ServerSignal>;

/** Close codes of the signalling socket (4xxx: application). */
export const SIGNAL_CLOSE = {
  /** the streamer is not running or not reachable */
  streamerUnavailable: 4501,
  /** the client sent something that is not a signalling message */
  badMessage: 4400,
  /** no codec of the offer can be sent */
  noCodec: 4415,
  /** the desktop ended */
  ended: 4410,
} as const;

export const IceServerConfig = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServerConfig = z.infer<typeof IceServerConfig>;

/**
 * The agent's first frame to the streamer on each signalling connection (after it authenticated with
 * the session's streamer secret): which ICE servers to use for this viewer.
 */
export const StreamerHello = z.object({ type: z.literal('hello'), iceServers: z.array(IceServerConfig), viewer: z.string().max(64) });
export type StreamerHello = z.infer<typeof StreamerHello>;

// ---- DataChannel "input" (client -> streamer), JSON text frames -----------------------------------

const Unit = z.number().min(0).max(1);

/** Pointer at (x, y) in [0,1] of the remote screen, buttons as a mask (1 left, 2 middle, 4 right). */
export const PointerMessage = z.object({ t: z.literal('p'), x: Unit, y: Unit, b: z.number().int().min(0).max(31) });
/** Wheel steps (positive: down/right), already in notches. */
export const WheelMessage = z.object({ t: z.literal('w'), dx: z.number().int().min(-50).max(50), dy: z.number().int().min(-50).max(50) });
/** A key as an X keysym (layout-independent: the keysym, not the key position), pressed or released. */
export const KeyMessage = z.object({ t: z.literal('k'), keysym: z.number().int().min(0).max(0x1fffffff), down: z.boolean() });
/** Release every key and button the client pressed (focus lost). */
export const ReleaseAllMessage = z.object({ t: z.literal('u') });
/** Ask the remote screen to take this size (RandR), in device pixels. */
export const ResizeMessage = z.object({ t: z.literal('r'), w: z.number().int().min(320).max(7680), h: z.number().int().min(200).max(4320) });
/** Text for the remote clipboard, both ways. */
export const ClipboardMessage = z.object({ t: z.literal('c'), text: z.string().max(1024 * 1024) });

export const InputMessage = z.discriminatedUnion('t', [PointerMessage, WheelMessage, KeyMessage, ReleaseAllMessage, ResizeMessage, ClipboardMessage]);
export type InputMessage = z.infer<typeof InputMessage>;

/**
 * The viewer turns the desktop's sound on or off (off until it asks). The streamer captures the sound
 * only while it is on, and answers with an `audio` message each time its state changes.
 */
export const SoundMessage = z.object({ t: z.literal('a'), on: z.boolean() });
export type SoundMessage = z.infer<typeof SoundMessage>;

/** Everything the client sends on the "input" channel. */
export const ClientChannelMessage = z.discriminatedUnion('t', [PointerMessage, WheelMessage, KeyMessage, ReleaseAllMessage, ResizeMessage, ClipboardMessage, SoundMessage]);
export type ClientChannelMessage = z.infer<typeof ClientChannelMessage>;

// ---- DataChannel "input" (streamer -> client) ------------------------------------------------------

/** The remote cursor's image (PNG, base64) and hot spot, drawn locally so pointing has no latency. */
export const CursorMessage = z.object({ t: z.literal('cursor'), png: z.string().max(512 * 1024), x: z.number().int(), y: z.number().int(), w: z.number().int(), h: z.number().int() });
/** The remote screen's size now (after a resize, or at start). */
export const ScreenMessage = z.object({ t: z.literal('screen'), w: z.number().int().positive(), h: z.number().int().positive() });
/** What the streamer is sending, so the page's stats can say it. */
export const EncoderMessage = z.object({ t: z.literal('encoder'), codec: z.string(), implementation: z.string(), bitrateKbps: z.number(), fps: z.number() });

/**
 * The desktop's sound on this connection: `available` false when the desktop has none (no sound server,
 * or the offer had no Opus audio section), with `message` saying why; `on` true while it is sent;
 * `message` also says why it stopped when it stops by itself.
 */
export const AudioStateMessage = z.object({ t: z.literal('audio'), available: z.boolean(), on: z.boolean(), message: z.string().max(500).optional() });
export type AudioStateMessage = z.infer<typeof AudioStateMessage>;

export const StreamerMessage = z.discriminatedUnion('t', [ClipboardMessage, CursorMessage, ScreenMessage, EncoderMessage, AudioStateMessage]);
export type StreamerMessage = z.infer<typeof StreamerMessage>;

/** The DataChannel's label. */
export const INPUT_CHANNEL = 'input';
