/**
 * Enrolled devices (kiosks): an admin issues a one-time enrolment code (valid a day); the device
 * redeems it with the public half of a key it keeps in its keychain; every sign-in from it then
 * proves that key. Only hashes of codes and public keys are kept. The document and its pure rules live
 * here; the file and the Secret are two stores of the same document.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { z } from 'zod';
import { DevicePublicKey } from '../contract/index.js';

export const ENROLMENT_CODE_SECONDS = 24 * 3600;
/** No 0/O, 1/I/L: read aloud or typed on a kiosk's screen keyboard without mistakes. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export const DeviceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/, 'a device name is 1-63 letters, digits, spaces, ".", "_" or "-"');

export const DevicesDoc = z.object({
  version: z.literal(1),
  enrolments: z.array(z.object({ codeHash: z.string(), name: DeviceName, createdAt: z.number(), expiresAt: z.number() })),
  devices: z.array(z.object({ id: z.string(), name: DeviceName, publicKey: DevicePublicKey, enrolledAt: z.number(), revokedAt: z.number().optional() })),
});
export type DevicesDoc = z.infer<typeof DevicesDoc>;
export type Device = DevicesDoc['devices'][number];

export const emptyDevices = (): DevicesDoc => ({ version: 1, enrolments: [], devices: [] });

export interface DeviceStore {
  /** where it lives, for messages ("/var/lib/porthole/devices.json", "Secret ns/name") */
  readonly where: string;
  load(): Promise<DevicesDoc>;
  /** Reads, changes and writes the document as one step (retried when another writer came first). */
  update<T>(change: (doc: DevicesDoc) => { doc: DevicesDoc; result: T }): Promise<T>;
}

/** Codes look like `K7QX-4MNP-ZR2D`; people may type them in lower case, with or without dashes. */
export function newEnrolmentCode(): string {
  const chars = Array.from({ length: 12 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]);
  return [0, 4, 8].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

export function normaliseCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

export const codeHash = (code: string) => createHash('sha256').update(normaliseCode(code)).digest('base64url');

export class DeviceError extends Error {
  constructor(
    readonly problem: 'code_invalid' | 'code_expired' | 'name_taken' | 'unknown_device',
    message: string,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** Pure: expired codes go (a day after they expired, so "expired" can still be told from "wrong"). */
export function pruned(doc: DevicesDoc, now: number): DevicesDoc {
  return { ...doc, enrolments: doc.enrolments.filter((e) => e.expiresAt + 24 * 3600_000 > now) };
}

/** Pure: a new code for a device of that name (the name is its label in `devices list`). */
export function issueEnrolment(doc: DevicesDoc, name: string, code: string, now: number): DevicesDoc {
  if (doc.devices.some((d) => d.name === name && d.revokedAt === undefined)) {
    throw new DeviceError('name_taken', `A device named "${name}" is enrolled already; revoke it first or pick another name`);
  }
  const enrolments = doc.enrolments.filter((e) => e.name !== name);
  return pruned({ ...doc, enrolments: [...enrolments, { codeHash: codeHash(code), name, createdAt: now, expiresAt: now + ENROLMENT_CODE_SECONDS * 1000 }] }, now);
}

/** Pure: the code is spent once; the device is known by its new id and public key from then on. */
export function redeemEnrolment(doc: DevicesDoc, code: string, publicKey: DevicePublicKey, now: number, id = `dev-${randomBytes(9).toString('base64url')}`): { doc: DevicesDoc; device: Device } {
  const hash = codeHash(code);
  const found = doc.enrolments.find((e) => e.codeHash === hash);
  if (!found) throw new DeviceError('code_invalid', 'That enrolment code is not valid (or was used already); ask your administrator for a new one');
  if (found.expiresAt <= now) throw new DeviceError('code_expired', 'That enrolment code has expired (they are valid for a day); ask your administrator for a new one');
  const device: Device = { id, name: found.name, publicKey, enrolledAt: now };
  return { doc: pruned({ ...doc, enrolments: doc.enrolments.filter((e) => e !== found), devices: [...doc.devices, device] }, now), device };
}

/** Pure: by id or by name; a revoked device stays listed (with when), so its sign-ins say why they fail. */
export function revokeDevice(doc: DevicesDoc, idOrName: string, now: number): { doc: DevicesDoc; device: Device } {
  const device = doc.devices.find((d) => d.revokedAt === undefined && (d.id === idOrName || d.name === idOrName));
  if (!device) throw new DeviceError('unknown_device', `No enrolled device has the id or name "${idOrName}" (see devices list)`);
  const revoked = { ...device, revokedAt: now };
  return { doc: { ...doc, devices: doc.devices.map((d) => (d === device ? revoked : d)) }, device: revoked };
}
