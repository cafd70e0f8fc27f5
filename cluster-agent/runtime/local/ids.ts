/** Random identifiers and secrets. Session ids are short and lower-case so they fit URLs and labels. */
import { randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `s-` + 10 base32 characters (50 random bits): plenty for one machine's sessions. */
export function newSessionId(): string {
  const bytes = randomBytes(10);
  let id = 's-';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** VncAuth uses only the first 8 bytes of a password; 8 printable random characters use them all. */
export function newVncPassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = randomBytes(8);
  let password = '';
  // 256 % 57 bias is irrelevant next to DES's 56-bit key: VncAuth is only the local hop's lock.
  for (const b of bytes) password += alphabet[b % alphabet.length];
  return password;
}

/** An X11 MIT-MAGIC-COOKIE-1: 16 random bytes. */
export function newXCookie(): Buffer {
  return randomBytes(16);
}

/** The secret the agent shows the streamer (never the client): 32 random bytes, base64url. */
export function newStreamerSecret(): string {
  return randomBytes(32).toString('base64url');
}
