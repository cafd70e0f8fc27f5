/**
 * The agent's view of enrolled devices: redeeming enrolment codes, checking the proof a device sends
 * with its sign-ins, and telling at once (within a couple of seconds, the cache) when one was revoked,
 * whichever agent or CLI revoked it. The store (file or Secret) is chosen by the composition root.
 */
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { DEVICE_PROOF_AUDIENCE, type DevicePublicKey, type EnrolledDevice } from '../contract/index.js';
import { redeemEnrolment, type DeviceStore, type DevicesDoc } from '../state/devices.js';

/** A proof at most this old (plus skew) counts; its jti is remembered that long. */
const PROOF_MAX_AGE_SECONDS = 120;
const SKEW_SECONDS = 30;

export class DeviceProofError extends Error {
  constructor(
    readonly reason: 'device_proof_invalid' | 'device_revoked',
    message: string,
  ) {
    super(message);
    this.name = 'DeviceProofError';
  }
}

export const REVOKED_MESSAGE = "This device's enrolment was revoked; ask your administrator to enrol it again";

export class DeviceRegistry {
  private cached?: { doc: DevicesDoc; at: number };
  private readonly seenProofs = new Map<string, number>();

  constructor(
    readonly store: DeviceStore,
    private readonly now: () => number = Date.now,
    private readonly cacheMs = 2_000,
  ) {}

  private async doc(): Promise<DevicesDoc> {
    if (this.cached && this.now() - this.cached.at < this.cacheMs) return this.cached.doc;
    const doc = await this.store.load();
    this.cached = { doc, at: this.now() };
    return doc;
  }

  /** Redeems a code (once) for the device holding `publicKey`. */
  async enroll(code: string, publicKey: DevicePublicKey): Promise<EnrolledDevice> {
    const device = await this.store.update((doc) => {
      const { doc: next, device } = redeemEnrolment(doc, code, publicKey, this.now());
      return { doc: next, result: device };
    });
    this.cached = undefined;
    return { id: device.id, name: device.name };
  }

  /** True for a device that was revoked or is not (any more) enrolled here. */
  async isRevoked(id: string): Promise<boolean> {
    const device = (await this.doc()).devices.find((d) => d.id === id);
    return !device || device.revokedAt !== undefined;
  }

  /** Checks a device's proof: signed by its enrolled key, fresh, not seen before, device not revoked. */
  async verifyProof(jwt: string): Promise<EnrolledDevice> {
    let sub: unknown;
    try {
      sub = decodeJwt(jwt).sub;
    } catch {
      throw new DeviceProofError('device_proof_invalid', 'The device proof is not a JWT');
    }
    const device = typeof sub === 'string' ? (await this.doc()).devices.find((d) => d.id === sub) : undefined;
    if (!device) throw new DeviceProofError('device_proof_invalid', 'This device is not enrolled here; enrol it with a code from your administrator');
    if (device.revokedAt !== undefined) throw new DeviceProofError('device_revoked', REVOKED_MESSAGE);
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt, await importJWK(device.publicKey, 'EdDSA'), {
        audience: DEVICE_PROOF_AUDIENCE,
        subject: device.id,
        algorithms: ['EdDSA'],
        currentDate: new Date(this.now()),
        clockTolerance: SKEW_SECONDS,
        maxTokenAge: PROOF_MAX_AGE_SECONDS,
        requiredClaims: ['iat', 'exp', 'jti'],
      }));
    } catch (err) {
      throw new DeviceProofError('device_proof_invalid', `The device proof does not hold (${(err as Error).message})`);
    }
    this.forgetOldProofs();
    const key = `${device.id}/${String(payload.jti)}`;
    if (this.seenProofs.has(key)) throw new DeviceProofError('device_proof_invalid', 'This device proof was used already');
    this.seenProofs.set(key, this.now() + (PROOF_MAX_AGE_SECONDS + SKEW_SECONDS) * 1000);
    return { id: device.id, name: device.name };
  }

  private forgetOldProofs(): void {
    const now = this.now();
    for (const [k, until] of this.seenProofs) if (until < now) this.seenProofs.delete(k);
  }
}
