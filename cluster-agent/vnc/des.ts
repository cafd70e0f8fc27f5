/**
 * The two DES uses of the RFB protocol. Node 20's OpenSSL 3 refuses `des-ecb` without the legacy
 * provider, so we use des.js (pure JS). VNC feeds keys to DES with the bits of each byte mirrored
 * (a quirk of the original d3des code), hence `mirrorBits`.
 */
import desjs from 'des.js';

/** TigerVNC's fixed key for obfuscating stored passwords (vncpasswd files), as d3des takes it. */
const OBFUSCATION_KEY = [23, 82, 107, 6, 35, 78, 88, 7];

function mirrorBits(byte: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) if (byte & (1 << i)) out |= 1 << (7 - i);
  return out;
}

/** VNC uses only the first 8 bytes of a password, zero-padded. */
function passwordKey(password: string): number[] {
  const bytes = Buffer.from(password, 'latin1');
  return Array.from({ length: 8 }, (_, i) => mirrorBits(bytes[i] ?? 0));
}

function desEncrypt(key: number[], data: Uint8Array): Buffer {
  const cipher = desjs.DES.create({ type: 'encrypt', key, padding: false });
  return Buffer.from(cipher.update(Array.from(data)).concat(cipher.final()));
}

/** VncAuth: the 16-byte response to the server's 16-byte challenge. */
export function vncAuthResponse(password: string, challenge: Uint8Array): Buffer {
  if (challenge.length !== 16) throw new Error(`VNC challenge must be 16 bytes, got ${challenge.length}`);
  return desEncrypt(passwordKey(password), challenge);
}

/** The 8-byte content of a vncpasswd file (what `vncpasswd -f` writes), for Xvnc -PasswordFile. */
export function vncPasswordFile(password: string): Buffer {
  const plain = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(plain, 0, 0, 8);
  return desEncrypt(OBFUSCATION_KEY.map(mirrorBits), plain);
}
