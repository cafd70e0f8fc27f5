/**
 * Which NACKed packets to send again. A receiver on a link that just shrank asks for hundreds of
 * packets, and again every round trip; resending all of them (libdatachannel's responder does) carries
 * more than the media itself over the link that is already too small, and the picture stalls longer.
 * So, as libwebrtc's packet history does: a packet is resent at most once per 100 ms and within a byte
 * budget, and none from before the key frame last asked of the encoder (a receiver decodes on from
 * that; repairing the frames before it only delays the key frame's own repairs); one refused
 * now is asked for again a round trip later. No age limit: a frame the receiver still waits for is
 * one it shows when it is whole (Chromium waits up to 3 s before it asks for a key frame instead).
 * Pure apart from the clock it is given.
 */

const SLOTS = 2048;
/** a packet resent less than this ago is on its way */
const RESEND_SPACING_MS = 100;
/** the budget's bucket: this much time's worth of repairs may go at once */
const BURST_MS = 500;

interface Slot {
  seq: number;
  /** how many packets were sent before it (seq numbers wrap) */
  index: number;
  packet: Buffer;
  resentAt: number;
}

export class Retransmitter {
  private readonly slots: Array<Slot | undefined> = new Array<Slot | undefined>(SLOTS);
  private sentCount = 0;
  private firstUseful = 0;
  private budgetBytes = 0;
  private budgetAt = 0;

  /** `budgetKbps()`: how much resending may add, asked at each NACK (a share of the target bitrate). */
  constructor(private readonly budgetKbps: () => number) {}

  sent(packet: Buffer): void {
    const seq = packet.readUInt16BE(2);
    this.slots[seq % SLOTS] = { seq, index: this.sentCount++, packet, resentAt: Number.NEGATIVE_INFINITY };
  }

  /** A key frame was asked of the encoder: what was sent until now is not worth repairing any more. */
  keyframeComing(): void {
    this.firstUseful = this.sentCount;
  }

  /** The packets to send again for one NACK, oldest first. */
  nack(seqs: readonly number[], now: number): Buffer[] {
    const rate = (this.budgetKbps() * 1000) / 8; // bytes per second
    // A burst of repairs may go at once, a storm may not.
    this.budgetBytes = Math.min((rate * BURST_MS) / 1000, this.budgetBytes + ((now - this.budgetAt) / 1000) * rate);
    this.budgetAt = now;
    const out: Buffer[] = [];
    for (const seq of seqs) {
      const slot = this.slots[seq % SLOTS];
      if (!slot || slot.seq !== seq || slot.index < this.firstUseful) continue;
      if (now - slot.resentAt < RESEND_SPACING_MS) continue;
      if (slot.packet.length > this.budgetBytes) break;
      this.budgetBytes -= slot.packet.length;
      slot.resentAt = now;
      out.push(slot.packet);
    }
    return out;
  }
}
