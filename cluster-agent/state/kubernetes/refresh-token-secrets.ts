/**
 * Refresh tokens in the cluster (kubernetes runtime), so every replica sees the same tokens and a
 * restarted agent pod forgets none. One Secret per user, `porthole-refresh-<hash of user>`, holds that
 * user's entries keyed by the token's SHA-256 (never the token), exactly as the file store does.
 *
 * A token is `<user key>.<random>`: the user key (the Secret name's suffix, a hash of the user name) says
 * which Secret to read, so a refresh needs no list and no index. Every change is a replace (PUT) carrying
 * the resourceVersion it read: of two replicas refreshing the same token at once, one write wins and the
 * other gets 409, re-reads, sees the token rotated and revokes the family (reuse detection holds across
 * replicas). Each replica caches the last version it read or wrote per user; a stale cache costs a 409 and
 * a re-read, never a wrong answer, because a write only lands on the version it was decided on, and an
 * "unknown token" answer is always checked against a fresh read.
 *
 * API cost: refresh = 1 PUT when this replica last touched that user's Secret, else GET + PUT; login the
 * same (POST instead of PUT for a user's first login); a forged/unknown token = 1 GET (404 or no entry).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { z } from 'zod';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { apiMessage, isConflict, isNotFound, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';
import { decideRevoke, decideRotate, prune, RefreshEntry, REFRESH_TOKEN_SECONDS, refreshTokenDigest, signedInFields, type Decision, type Entries, type RefreshOutcome, type RefreshTokens, type SignedInAs } from '../refresh-tokens.js';

export { decideRotate, prune, type Entries } from '../refresh-tokens.js';

export const REFRESH_SECRET_PREFIX = 'porthole-refresh-';
export const REFRESH_COMPONENT = 'refresh-tokens';
export const REFRESH_USER_ANNOTATION = 'porthole.dev/user';
const DATA_KEY = 'tokens.json';
const ATTEMPTS = 8;
/** users whose Secret a replica remembers (least recently used go first); a miss only costs a GET */
const MAX_CACHED_USERS = 10_000;

const Doc = z.object({ version: z.literal(1), user: z.string(), tokens: z.record(z.string(), RefreshEntry) });

/** 32 hex characters of SHA-256(user): the Secret name suffix and the token prefix. */
export const userKey = (user: string) => createHash('sha256').update(user, 'utf8').digest('hex').slice(0, 32);
export const refreshSecretName = (key: string) => `${REFRESH_SECRET_PREFIX}${key}`;
const KEY_RE = /^[0-9a-f]{32}$/;

/** The user key a token names, or undefined for anything that is not one of ours (no API call then). */
export function keyOfToken(token: string): string | undefined {
  const dot = token.indexOf('.');
  const key = dot === 32 ? token.slice(0, 32) : '';
  return KEY_RE.test(key) && token.length > 33 && token.length < 200 ? key : undefined;
}

interface Cached {
  resourceVersion?: string;
  tokens: Entries;
  /** the user the Secret belongs to (undefined: no Secret yet and no user known) */
  user?: string;
}

export class KubernetesRefreshTokens implements RefreshTokens {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly now: () => number = Date.now,
  ) {}

  private secret(key: string, user: string, tokens: Entries, resourceVersion?: string): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: refreshSecretName(key),
        namespace: this.namespace,
        labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: REFRESH_COMPONENT },
        annotations: { [REFRESH_USER_ANNOTATION]: user },
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      data: { [DATA_KEY]: Buffer.from(JSON.stringify({ version: 1, user, tokens }), 'utf8').toString('base64') },
    };
  }

  private remember(key: string, state: Cached): void {
    this.cache.delete(key);
    this.cache.set(key, state);
    if (this.cache.size > MAX_CACHED_USERS) this.cache.delete(this.cache.keys().next().value!);
  }

  /** A fresh read; a missing or unreadable Secret is an empty one (a corrupt one costs its user a sign-in). */
  private async read(key: string): Promise<Cached> {
    let s: V1Secret;
    try {
      s = await this.clients.core.readNamespacedSecret({ name: refreshSecretName(key), namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return { tokens: {} };
      throw err;
    }
    const rv = s.metadata?.resourceVersion;
    try {
      const doc = Doc.parse(JSON.parse(Buffer.from(s.data?.[DATA_KEY] ?? '', 'base64').toString('utf8')));
      return { ...(rv !== undefined ? { resourceVersion: rv } : {}), tokens: doc.tokens, user: doc.user };
    } catch {
      return { ...(rv !== undefined ? { resourceVersion: rv } : {}), tokens: {}, user: s.metadata?.annotations?.[REFRESH_USER_ANNOTATION] };
    }
  }

  /** Writes with the resourceVersion read (create if none); false = someone else wrote first (409). */
  private async write(key: string, user: string, tokens: Entries, resourceVersion: string | undefined): Promise<boolean> {
    const pruned = prune(tokens, this.now());
    try {
      const body = this.secret(key, user, pruned, resourceVersion);
      const saved =
        resourceVersion === undefined
          ? await this.clients.core.createNamespacedSecret({ namespace: this.namespace, body })
          : await this.clients.core.replaceNamespacedSecret({ name: body.metadata!.name!, namespace: this.namespace, body });
      const rv = saved.metadata?.resourceVersion;
      this.remember(key, { ...(rv !== undefined ? { resourceVersion: rv } : {}), tokens: pruned, user });
      return true;
    } catch (err) {
      this.cache.delete(key);
      if (isConflict(err)) return false;
      // Replaced a Secret deleted meanwhile (an admin revoking everything): start over from a fresh read.
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Read (cache or API), decide, write with that resourceVersion; on 409 re-read and decide again.
   * `decide` gets the entries, whether they are fresh, and the user recorded in the Secret.
   */
  private async mutate<T>(key: string, userHint: string | undefined, decide: (tokens: Entries, fresh: boolean, user: string | undefined) => Decision<T>): Promise<T> {
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        let state = this.cache.get(key);
        let fresh = false;
        if (!state) {
          state = await this.read(key);
          fresh = true;
        }
        const user = state.user ?? userHint;
        const d = decide(structuredClone(state.tokens), fresh, user);
        if (d.needFresh && !fresh) {
          this.cache.delete(key);
          continue;
        }
        // Only existing Secrets are cached: forged tokens naming random users must not grow the cache.
        if (fresh && state.resourceVersion !== undefined) this.remember(key, state);
        if (!d.write || user === undefined) return d.result;
        if (await this.write(key, user, d.write, state.resourceVersion)) return d.result;
      }
    } catch (err) {
      throw new RuntimeError('unavailable', `Could not read or write the refresh-token Secret ${this.namespace}/${refreshSecretName(key)}: ${apiMessage(err)}`);
    }
    throw new RuntimeError('unavailable', `The refresh-token Secret ${this.namespace}/${refreshSecretName(key)} kept changing; try again`);
  }

  private mint(key: string): { hash: string; token: string } {
    const token = `${key}.${randomBytes(32).toString('base64url')}`;
    return { hash: refreshTokenDigest(token), token };
  }

  issue(user: string, as?: SignedInAs): Promise<string> {
    const key = userKey(user);
    return this.mutate(key, user, (tokens) => {
      const next = this.mint(key);
      return { result: next.token, write: { ...tokens, [next.hash]: { family: randomUUID(), expiresAt: this.now() + REFRESH_TOKEN_SECONDS * 1000, ...signedInFields(as) } } };
    });
  }

  async rotate(token: string): Promise<RefreshOutcome> {
    const key = keyOfToken(token);
    if (!key) return { ok: false, problem: 'unknown' };
    const hash = refreshTokenDigest(token);
    let owner: string | undefined;
    const { outcome } = await this.mutate(key, undefined, (tokens, _fresh, user) => {
      owner = user;
      return decideRotate(tokens, hash, this.now(), () => this.mint(key));
    });
    if (outcome.ok) {
      if (owner === undefined) return { ok: false, problem: 'unknown' };
      return { ...outcome, user: owner };
    }
    return outcome;
  }

  async revoke(token: string): Promise<void> {
    const key = keyOfToken(token);
    if (!key) return;
    const hash = refreshTokenDigest(token);
    await this.mutate(key, undefined, (tokens) => decideRevoke(tokens, hash));
  }
}
