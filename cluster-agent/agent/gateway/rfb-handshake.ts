/**
 * The two halves of the RFB handshake (RFC 6143 §7.1-7.2) the gateway performs:
 *  - towards the desktop it is a client and answers VncAuth with the session's secret;
 *  - towards the viewer it is a server that offers only security type None,
 * so the VNC secret never leaves the agent and the viewer authenticates with its connect token.
 * After both halves the two sides are in the ClientInit/ServerInit phase and bytes are piped as-is.
 */
import { vncAuthResponse } from '../../vnc/des.js';
import type { ByteReader } from './byte-reader.js';

export const SECURITY_NONE = 1;
export const SECURITY_VNC_AUTH = 2;
const VERSION_3_8 = Buffer.from('RFB 003.008\n', 'latin1');

export class RfbError extends Error {}

type Write = (b: Buffer) => void;

/** The minor version to speak (3, 7 or 8) from a 12-byte ProtocolVersion message. */
export function negotiateMinor(versionMessage: Buffer, who: string): 3 | 7 | 8 {
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(versionMessage.toString('latin1'));
  if (!m || Number(m[1]) !== 3) {
    throw new RfbError(`${who} does not speak the VNC protocol (got ${JSON.stringify(versionMessage.toString('latin1'))})`);
  }
  const minor = Number(m[2]);
  // RFC 6143 §7.1.1: anything between the published versions is treated as 3.3.
  return minor >= 8 ? 8 : minor === 7 ? 7 : 3;
}

async function readReason(r: ByteReader): Promise<string> {
  const len = await r.readU32();
  return (await r.read(Math.min(len, 4096))).toString('utf8');
}

function versionMessage(minor: 3 | 7 | 8): Buffer {
  return Buffer.from(`RFB 003.00${minor}\n`, 'latin1');
}

/** Agent as RFB client of the desktop: version, security (VncAuth preferred, None accepted), result. */
export async function authenticateToServer(r: ByteReader, write: Write, password: string): Promise<void> {
  const minor = negotiateMinor(await r.read(12), 'The desktop');
  write(versionMessage(minor));
  let type: number;
  if (minor === 3) {
    type = await r.readU32();
    if (type === 0) throw new RfbError(`The desktop refused the connection: ${await readReason(r)}`);
  } else {
    const n = await r.readU8();
    if (n === 0) throw new RfbError(`The desktop refused the connection: ${await readReason(r)}`);
    const offered = [...(await r.read(n))];
    if (offered.includes(SECURITY_VNC_AUTH)) type = SECURITY_VNC_AUTH;
    else if (offered.includes(SECURITY_NONE)) type = SECURITY_NONE;
    else throw new RfbError(`The desktop offers no security type the agent supports (offered ${offered.join(', ')}; need VncAuth or None)`);
    write(Buffer.from([type]));
  }
  if (type === SECURITY_VNC_AUTH) {
    write(vncAuthResponse(password, await r.read(16)));
  } else if (type !== SECURITY_NONE) {
    throw new RfbError(`The desktop requires security type ${type}, which the agent does not support`);
  }
  // SecurityResult: always after VncAuth; after None only from 3.8 on.
  if (type === SECURITY_VNC_AUTH || minor === 8) {
    const result = await r.readU32();
    if (result !== 0) {
      const why = minor === 8 ? await readReason(r) : 'no reason given';
      throw new RfbError(`The desktop refused the agent's VNC credentials (${why})`);
    }
  }
}

/** Agent as RFB server for the viewer: offers only None, then SecurityResult OK. */
export async function acceptViewer(r: ByteReader, write: Write): Promise<void> {
  write(VERSION_3_8);
  const minor = negotiateMinor(await r.read(12), 'The viewer');
  if (minor === 3) {
    write(u32(SECURITY_NONE));
    return;
  }
  write(Buffer.from([1, SECURITY_NONE]));
  const choice = await r.readU8();
  if (choice !== SECURITY_NONE) {
    if (minor === 8) {
      const reason = Buffer.from('Only security type None is offered: the agent authenticates with the connect token');
      write(Buffer.concat([u32(1), u32(reason.length), reason]));
    }
    throw new RfbError(`The viewer chose security type ${choice}; only None (1) is offered`);
  }
  if (minor === 8) write(u32(0));
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
