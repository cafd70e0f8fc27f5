/**
 * The Xauthority file format (libXau): Xvnc's -auth file and the desktop's XAUTHORITY. Without it any
 * local user could connect to the X display and read keystrokes; with it only holders of the cookie can.
 */

const FAMILY_WILD = 0xffff;
const MIT_COOKIE = 'MIT-MAGIC-COOKIE-1';

function field(data: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(data.length);
  return Buffer.concat([len, data]);
}

/** One entry that matches display :N on any host (FamilyWild), so clients find it without a hostname. */
export function xauthorityEntry(display: number, cookie: Buffer): Buffer {
  const family = Buffer.alloc(2);
  family.writeUInt16BE(FAMILY_WILD);
  return Buffer.concat([
    family,
    field(Buffer.alloc(0)),
    field(Buffer.from(String(display), 'latin1')),
    field(Buffer.from(MIT_COOKIE, 'latin1')),
    field(cookie),
  ]);
}

/** The cookie of the first MIT-MAGIC-COOKIE-1 entry of a file we wrote, or undefined. */
export function cookieFromXauthority(file: Buffer): Buffer | undefined {
  let at = 0;
  const next = (): Buffer | undefined => {
    if (at + 2 > file.length) return undefined;
    const len = file.readUInt16BE(at);
    if (at + 2 + len > file.length) return undefined;
    const value = file.subarray(at + 2, at + 2 + len);
    at += 2 + len;
    return value;
  };
  while (at + 2 <= file.length) {
    at += 2; // family
    const address = next();
    const number = next();
    const name = next();
    const data = next();
    if (!address || !number || !name || !data) return undefined;
    if (name.toString('latin1') === MIT_COOKIE) return Buffer.from(data);
  }
  return undefined;
}
