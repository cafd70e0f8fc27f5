/**
 * Refresh tokens: the interface both stores implement and the rules they share. A token is an opaque
 * random string; only its SHA-256 is stored. Every refresh rotates the token. A rotated token presented
 * again means two parties hold the same token (it leaked), so the whole family (every token descended
 * from that sign-in) is revoked and the person signs in again. The rules are pure functions over a map
 * of entries; the file store (refresh-token-file.ts) and the Secret store
 * (kubernetes/refresh-token-secrets.ts) only read and write that map.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const REFRESH_TOKEN_SECONDS = 14 * 24 * 3600;

/** What the sign-in vouched for, carried by every token of its family (providers that cannot look people up again). */
export interface SignedInAs {
  idp?: string | undefined;
  groups?: string[] | undefined;
  /** the enrolled device the sign-in was made on (its proof checked then); a revoked one ends the family */
  device?: string | undefined;
}

export type RefreshOutcome = ({ ok: true; user: string; token: string } & SignedInAs) | { ok: false; problem: 'unknown' | 'expired' | 'reused' };

/** Where refresh tokens live: a file (one agent) or Secrets in the cluster (every replica sees the same). */
export interface RefreshTokens {
  /** A new family, at sign-in. */
  issue(user: string, as?: SignedInAs): Promise<string>;
  /** Exchanges a token for a new one of the same family; a rotated token presented again revokes the family. */
  rotate(token: string): Promise<RefreshOutcome>;
  /** Sign-out: the presented token's whole family ends. Unknown tokens are fine (idempotent). */
  revoke(token: string): Promise<void>;
}

export const refreshTokenDigest = (token: string) => createHash('sha256').update(token).digest('base64url');

export const RefreshEntry = z.object({
  family: z.string(),
  expiresAt: z.number(),
  /** set once the token has been exchanged for a new one */
  rotatedAt: z.number().optional(),
  /** the identity provider and groups of the sign-in (SignedInAs) */
  idp: z.string().optional(),
  groups: z.array(z.string()).optional(),
  device: z.string().optional(),
});
export type RefreshEntry = z.infer<typeof RefreshEntry>;
/** Entries by the token's digest; a store may keep more per entry (the file store: the user). */
export type Entries<E extends RefreshEntry = RefreshEntry> = Record<string, E>;

/**
 * Rotated entries are kept until they expire (a rotated token presented again revokes its family), but
 * a store is bounded (a Secret holds at most 1 MiB): beyond `max` entries the oldest rotated ones go first
 * (such a token then gets "unknown" instead of revoking its family).
 */
export const MAX_ENTRIES_PER_USER = 3000;

/** Pure: drop expired entries, then the oldest rotated ones beyond `max`. */
export function prune<E extends RefreshEntry>(tokens: Entries<E>, now: number, max = MAX_ENTRIES_PER_USER): Entries<E> {
  const live = Object.entries(tokens).filter(([, e]) => e.expiresAt >= now);
  if (live.length > max) {
    const rotated = live.filter(([, e]) => e.rotatedAt !== undefined).sort((a, b) => a[1].rotatedAt! - b[1].rotatedAt!);
    const drop = new Set(rotated.slice(0, live.length - max).map(([h]) => h));
    return Object.fromEntries(live.filter(([h]) => !drop.has(h)));
  }
  return Object.fromEntries(live);
}

/** Pure: the entries without a family. */
export function withoutFamily<E extends RefreshEntry>(tokens: Entries<E>, family: string): Entries<E> {
  return Object.fromEntries(Object.entries(tokens).filter(([, e]) => e.family !== family));
}

/** A store's decision: what to answer, what to write (nothing: leave the store as it is). */
export type Decision<T, E extends RefreshEntry = RefreshEntry> = { result: T; write?: Entries<E>; needFresh?: boolean };

/**
 * Pure: what a refresh of the token with digest `hash` does. `needFresh`: the token is unknown here,
 * which a store with a cache must check against a fresh read before it says so. The new entry keeps
 * whatever else the store records (the file store's user).
 */
export function decideRotate<E extends RefreshEntry>(tokens: Entries<E>, hash: string, now: number, mint: () => { hash: string; token: string }): Decision<{ outcome: RefreshOutcome; entry?: E }, E> {
  const entry = tokens[hash];
  if (!entry) return { result: { outcome: { ok: false, problem: 'unknown' } }, needFresh: true };
  if (entry.rotatedAt !== undefined) return { result: { outcome: { ok: false, problem: 'reused' } }, write: withoutFamily(tokens, entry.family) };
  if (entry.expiresAt < now) return { result: { outcome: { ok: false, problem: 'expired' } } };
  const next = mint();
  const { rotatedAt: _none, ...rest } = entry;
  const fresh = { ...rest, expiresAt: now + REFRESH_TOKEN_SECONDS * 1000 } as E;
  const as = signedInFields(entry);
  return { result: { outcome: { ok: true, user: '', token: next.token, ...as }, entry }, write: { ...tokens, [hash]: { ...entry, rotatedAt: now }, [next.hash]: fresh } };
}

/** Pure: the entry fields that record a sign-in's provider and groups. */
export const signedInFields = (as: SignedInAs | undefined): SignedInAs => ({
  ...(as?.idp !== undefined ? { idp: as.idp } : {}),
  ...(as?.groups !== undefined ? { groups: as.groups } : {}),
  ...(as?.device !== undefined ? { device: as.device } : {}),
});

/** Pure: sign-out of the token with digest `hash` ends its family; unknown is nothing to do. */
export function decideRevoke<E extends RefreshEntry>(tokens: Entries<E>, hash: string): Decision<undefined, E> {
  const entry = tokens[hash];
  if (!entry) return { result: undefined, needFresh: true };
  return { result: undefined, write: withoutFamily(tokens, entry.family) };
}
