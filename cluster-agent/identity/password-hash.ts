/**
 * Salted, slow password hashes with node:crypto scrypt. The cost parameters are stored inside each
 * hash (PHC-like string) so they can be raised later without breaking existing users files.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N */
  ln: number;
  r: number;
  p: number;
}

/** ~50-100 ms on a laptop core and 32 MiB of memory: slow for an attacker, fine for a login. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function scrypt(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** params.ln,
    r: params.r,
    p: params.p,
    // Node's default maxmem (32 MiB) is exactly what ln=15,r=8 needs; leave headroom.
    maxmem: 256 * 2 ** params.ln * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function parsePasswordHash(encoded: string): ParsedHash | undefined {
  const m = HASH_PATTERN.exec(encoded);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Refuse absurd parameters from a hand-edited file rather than hang the agent on login.
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return undefined;
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length < 16) return undefined;
  return { params, salt: Buffer.from(m[4]!, 'base64'), key };
}

/** Constant-time comparison of the derived key; false for a malformed hash (after doing the work anyway). */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  const target = parsed ?? DECOY;
  const key = await scrypt(password, target.salt, target.key.length, target.params);
  return timingSafeEqual(key, target.key) && parsed !== undefined;
}

/**
 * A hash no password matches (random key), with the default cost. Verifying an unknown user against
 * it makes "no such user" take as long as "wrong password", so timing does not reveal user names.
 */
const DECOY: ParsedHash = { params: DEFAULT_SCRYPT_PARAMS, salt: randomBytes(SALT_LENGTH), key: randomBytes(KEY_LENGTH) };

export async function verifyAgainstDecoy(password: string): Promise<false> {
  const key = await scrypt(password, DECOY.salt, DECOY.key.length, DECOY.params);
  timingSafeEqual(key, DECOY.key);
  return false;
}
