/**
 * The agent's token-signing keys (Ed25519): a keyring whose newest key signs and whose every live key
 * verifies. `keys rotate` (or the schedule) puts a new key in front and gives the old ones a retirement
 * time an overlap away, so tokens signed just before a rotation keep verifying until they expire anyway.
 * The rules are pure functions over the stored document; a file (signing-key-file.ts) or a Secret
 * (kubernetes/signing-key-secret.ts) keeps it. Private keys never leave the agent; /auth/jwks
 * publishes the public halves.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** key id in the JWT header: which key of the ring made a token */
  kid: string;
}

/** Old keys verify for this long after a rotation: longer than any token they signed lives (15 min). */
export const KEY_OVERLAP_SECONDS = 3600;

export const StoredKey = z.object({ pem: z.string(), createdAt: z.number(), retiresAt: z.number().optional() });
export type StoredKey = z.infer<typeof StoredKey>;
/** keys[0] is the one that signs. */
export const KeyringDoc = z.object({ version: z.literal(1), keys: z.array(StoredKey).min(1) });
export type KeyringDoc = z.infer<typeof KeyringDoc>;

/** Where the keyring is kept. `load` makes the first key when there is none. */
export interface SigningKeyStore {
  load(): Promise<KeyringDoc>;
  /** A new signing key; the others retire an overlap from now. Returns the ring as stored. */
  rotate(overlapSeconds?: number): Promise<KeyringDoc>;
}

/** A fresh Ed25519 key as PKCS#8 PEM. */
export function newSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }).x ?? 'ed25519';
  return { privateKey, publicKey, kid: raw.slice(0, 16) };
}

/** Pure: a ring of one new key. */
export const newKeyring = (pem: string, now: number): KeyringDoc => ({ version: 1, keys: [{ pem, createdAt: now }] });

/** Pure: keys that still verify at `now`. */
export const liveKeys = (doc: KeyringDoc, now: number): StoredKey[] => doc.keys.filter((k, i) => i === 0 || k.retiresAt === undefined || k.retiresAt > now);

/** Pure: `pem` signs from now on; the live old keys retire `overlapSeconds` from now (or sooner, if already set). */
export function rotateKeyring(doc: KeyringDoc, pem: string, now: number, overlapSeconds = KEY_OVERLAP_SECONDS): KeyringDoc {
  const retire = now + overlapSeconds * 1000;
  const old = liveKeys(doc, now).map((k) => ({ ...k, retiresAt: Math.min(k.retiresAt ?? retire, retire) }));
  return { version: 1, keys: [{ pem, createdAt: now }, ...old] };
}

/** Pure: is the signing key older than the schedule allows? */
export const rotationDue = (doc: KeyringDoc, now: number, everySeconds: number | undefined): boolean => everySeconds !== undefined && everySeconds > 0 && doc.keys[0]!.createdAt + everySeconds * 1000 <= now;

/** The ring in memory: the signing key and the live ones by kid. */
export class Keyring {
  private constructor(
    readonly current: SigningKey,
    private readonly byKid: Map<string, SigningKey>,
  ) {}

  static from(doc: KeyringDoc, now: number): Keyring {
    const keys = liveKeys(doc, now).map((k) => signingKeyFromPem(k.pem));
    return new Keyring(keys[0]!, new Map(keys.map((k) => [k.kid, k])));
  }

  find(kid: string | undefined): SigningKey | undefined {
    return kid === undefined ? undefined : this.byKid.get(kid);
  }

  /** The public halves as a JWK Set (RFC 7517), the signing key first. */
  jwks(): { keys: Array<JsonWebKey & { kid: string; alg: 'EdDSA'; use: 'sig' }> } {
    return { keys: [...this.byKid.values()].map((k) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: 'EdDSA', use: 'sig' })) };
  }
}

/**
 * The ring an agent works with: reloaded from its store now and then (another replica, or `keys
 * rotate`, may have changed it), at once when a token names a kid it does not know (at most every few
 * seconds, so forged kids cannot make it hammer the store), and rotated by itself when a schedule says so.
 */
export class LiveKeyring {
  private ring!: Keyring;
  private lastLoad = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly opts: { now?: () => number; rotateEverySeconds?: number; reloadSeconds?: number; onError?: (err: unknown) => void } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async start(): Promise<this> {
    await this.reload();
    const every = (this.opts.reloadSeconds ?? 30) * 1000;
    this.timer = setInterval(() => void this.reload().catch((err: unknown) => this.opts.onError?.(err)), every);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async reload(): Promise<void> {
    let doc = await this.store.load();
    if (rotationDue(doc, this.now(), this.opts.rotateEverySeconds)) doc = await this.store.rotate();
    this.ring = Keyring.from(doc, this.now());
    this.lastLoad = this.now();
  }

  get current(): SigningKey {
    return this.ring.current;
  }

  async find(kid: string | undefined): Promise<SigningKey | undefined> {
    const known = this.ring.find(kid);
    if (known || kid === undefined || this.now() - this.lastLoad < 5000) return known;
    await this.reload();
    return this.ring.find(kid);
  }

  jwks() {
    return this.ring.jwks();
  }
}
