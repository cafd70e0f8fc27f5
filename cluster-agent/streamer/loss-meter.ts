/**
 * Loss as the sender can know it within a round trip: the packets the receiver NACKed, each counted
 * once however often it is asked for again, against the packets sent in the same span. Measured only
 * over packets sent after a given moment (the last bitrate cut), so a cut is judged by what it sent,
 * not by the burst before it that the receiver is still reporting. Pure apart from the clock it is given.
 */

/**
 * How long a packet has to be NACKed before it counts as delivered, when no later packet was NACKed:
 * a round trip and a queue. (A NACK names the gaps before the newest packet the receiver has, so
 * everything sent before the newest NACKed packet is accounted for already.)
 */
const NACK_GRACE_MS = 150;
/** fewer packets than this in the span is no evidence either way */
const MIN_PACKETS = 20;

export class LossMeter {
  /** send time of each sequence number (ms), by seq & 0xffff */
  private readonly sentAt = new Float64Array(65536).fill(Number.NEGATIVE_INFINITY);
  private readonly nacked = new Set<number>();
  private newest = -1;
  /** send time of the latest-sent packet that was NACKed */
  private newestNackedAt = Number.NEGATIVE_INFINITY;

  sent(seq: number, now: number): void {
    this.sentAt[seq & 0xffff] = now;
    this.newest = seq & 0xffff;
    // A sequence number coming round again is a new packet.
    this.nacked.delete(seq & 0xffff);
  }

  nack(seqs: readonly number[]): void {
    for (const s of seqs) {
      const at = this.sentAt[s & 0xffff]!;
      if (at === Number.NEGATIVE_INFINITY) continue;
      this.nacked.add(s & 0xffff);
      this.newestNackedAt = Math.max(this.newestNackedAt, at);
    }
  }

  /**
   * Fraction of the packets sent in [max(from, end - windowMs), end] that were NACKed, `end` being the
   * send time of the newest NACKed packet or `now - grace`, whichever is later; undefined when too few
   * were sent in that span to tell.
   */
  fraction(now: number, from: number, windowMs = 300): number | undefined {
    if (this.newest < 0) return undefined;
    const end = Math.min(now, Math.max(now - NACK_GRACE_MS, this.newestNackedAt));
    const start = Math.max(from, end - windowMs);
    if (end <= start) return undefined;
    let sent = 0;
    let lost = 0;
    // Walk back from the newest packet; at most a window's worth (a few hundred at 8 Mbit/s).
    for (let i = 0, seq = this.newest; i < 65535; i++, seq = (seq - 1) & 0xffff) {
      const at = this.sentAt[seq]!;
      if (at < start) break;
      if (at > end) continue;
      sent++;
      if (this.nacked.has(seq)) lost++;
    }
    return sent >= MIN_PACKETS ? lost / sent : undefined;
  }

  /** Forget NACKs of packets sent before `before` (they no longer matter to any span). */
  prune(before: number): void {
    for (const s of this.nacked) if (this.sentAt[s]! < before) this.nacked.delete(s);
  }
}
