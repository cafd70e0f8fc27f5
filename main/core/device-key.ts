/**
 * This device's enrolment at an agent (a kiosk): an Ed25519 key made here, whose private half stays in
 * the OS keychain (item `device:<agent URL>`) and whose public half the agent keeps. Each sign-in and
 * refresh carries a fresh proof signed with it. Signing out or forgetting a person never removes it: it
 * belongs to the device, not to whoever used it.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { DEVICE_PROOF_AUDIENCE, type DevicePublicKey, type EnrolledDevice } from '../../cluster-agent/contract/index.js';
import { PortholeError } from '../../bridge/contract.js';
import type { SecretStore } from './secret-store.js';

export const deviceKeyItem = (agentUrl: string) => `device:${agentUrl}`;

interface StoredDevice extends EnrolledDevice {
  privateKey: JWK;
}

function parse(text: string | undefined): StoredDevice | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<StoredDevice>;
    return typeof v.id === 'string' && typeof v.name === 'string' && v.privateKey?.kty === 'OKP' ? (v as StoredDevice) : undefined;
  } catch {
    return undefined;
  }
}

export class DeviceKeys {
  constructor(private readonly store: () => Promise<SecretStore>) {}

  async enrolment(agentUrl: string): Promise<EnrolledDevice | undefined> {
    const stored = parse(await (await this.store()).get(deviceKeyItem(agentUrl)));
    return stored ? { id: stored.id, name: stored.name } : undefined;
  }

  /** Makes the key, has the agent redeem the code for its public half, keeps the private half. */
  async enroll(agentUrl: string, redeem: (publicKey: DevicePublicKey) => Promise<EnrolledDevice>): Promise<EnrolledDevice> {
    const store = await this.store();
    if (store.problem) throw new PortholeError('keychain_unavailable', `This device cannot be enrolled without the OS keychain, where its key must live. ${store.problem}`);
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pub = publicKey.export({ format: 'jwk' }) as DevicePublicKey;
    const device = await redeem({ kty: 'OKP', crv: 'Ed25519', x: pub.x });
    await store.set(deviceKeyItem(agentUrl), JSON.stringify({ ...device, privateKey: privateKey.export({ format: 'jwk' }) }));
    return device;
  }

  /** A proof for one sign-in or refresh at that agent: a two-minute JWT with a fresh id. */
  async proof(agentUrl: string): Promise<string | undefined> {
    const stored = parse(await (await this.store()).get(deviceKeyItem(agentUrl)));
    if (!stored) return undefined;
    // jose only where a device is enrolled: most launchers never load it (start-up time).
    const { importJWK, SignJWT } = await import('jose');
    const key = await importJWK(stored.privateKey, 'EdDSA');
    return new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject(stored.id).setAudience(DEVICE_PROOF_AUDIENCE).setIssuedAt().setExpirationTime('2m').setJti(randomUUID()).sign(key);
  }

  /** The agent revoked it: the key is of no use any more (a new enrolment makes a new one). */
  async forget(agentUrl: string): Promise<void> {
    await (await this.store()).delete(deviceKeyItem(agentUrl));
  }
}
