/**
 * RTP header extensions (RFC 8285, one-byte form) on packets the encoder's payloader made, which carry
 * none: the playout-delay extension tells the receiver to show each frame as soon as it is decoded.
 * Pure.
 */

/** One one-byte extension element: id, then `data` (1..16 bytes). */
export function oneByteElement(id: number, data: Buffer): Buffer {
  if (id < 1 || id > 14 || data.length < 1 || data.length > 16) throw new Error('not a one-byte header extension');
  return Buffer.concat([Buffer.from([(id << 4) | (data.length - 1)]), data]);
}

/** The playout-delay element: min and max delay in units of 10 ms, 12 bits each. */
export function playoutDelayExtension(id: number, minMs: number, maxMs: number): Buffer {
  const min = Math.min(4095, Math.round(minMs / 10));
  const max = Math.min(4095, Math.round(maxMs / 10));
  return oneByteElement(id, Buffer.from([min >> 4, ((min & 0xf) << 4) | (max >> 8), max & 0xff]));
}

/**
 * The packet with `element` added to its header extension: a new one-byte extension block when it has
 * none, appended to an existing one-byte block otherwise (other forms are left as they are).
 */
export function withHeaderExtension(packet: Buffer, element: Buffer): Buffer {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return packet;
  const csrcs = packet[0]! & 0x0f;
  const headerEnd = 12 + 4 * csrcs;
  const hasExtension = (packet[0]! & 0x10) !== 0;
  if (!hasExtension) {
    const words = Math.ceil(element.length / 4);
    const block = Buffer.alloc(4 + words * 4);
    block.writeUInt16BE(0xbede, 0);
    block.writeUInt16BE(words, 2);
    element.copy(block, 4);
    const out = Buffer.concat([packet.subarray(0, headerEnd), block, packet.subarray(headerEnd)]);
    out[0] = out[0]! | 0x10;
    return out;
  }
  if (packet.readUInt16BE(headerEnd) !== 0xbede) return packet;
  const words = packet.readUInt16BE(headerEnd + 2);
  const start = headerEnd + 4;
  const old = packet.subarray(start, start + words * 4);
  // Walk the old elements (id 0 is padding, id 15 ends the block) to find where they end, then append.
  let used = 0;
  for (let i = 0; i < old.length; ) {
    const id = old[i]! >> 4;
    if (id === 0) {
      i++;
      continue;
    }
    if (id === 15) break;
    i += 2 + (old[i]! & 0x0f);
    used = i;
  }
  const joined = Buffer.concat([old.subarray(0, used), element]);
  const newWords = Math.ceil(joined.length / 4);
  const block = Buffer.alloc(4 + newWords * 4);
  block.writeUInt16BE(0xbede, 0);
  block.writeUInt16BE(newWords, 2);
  joined.copy(block, 4);
  return Buffer.concat([packet.subarray(0, headerEnd), block, packet.subarray(start + words * 4)]);
}
