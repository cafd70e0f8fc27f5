/**
 * The identity providers the agent is configured with, as one: the users file first (local accounts,
 * e.g. an admin), then the directory. What /auth/providers tells the sign-in screen comes from here.
 */
import { randomBytes } from 'node:crypto';
import { UserName } from '../contract/index.js';
import type { LdapProvider } from './ldap.js';
import type { OidcProvider } from './oidc.js';
import { refusal, WRONG_PASSWORD, type Identity, type SignInResult } from './types.js';
import type { UserDirectory, UsersHealth } from './user-directory.js';

const PROVIDER_NAMES = { users: 'the users file', ldap: 'the company directory', oidc: 'the sign-in service', guest: 'the guest sign-in' } as const;

/** Guest sign-in (kiosks, as abcdesktop's anonymous access): off unless configured, and only these templates. */
export interface GuestConfig {
  templates: string[];
}

/**
 * Pure: a provider's answer as a Porthole user. Names become directory names and label values, so a
 * directory's `Ann` is `ann`, and a name that still is not one (`ann.k@example.org`) is refused with a
 * sentence instead of failing later.
 */
export function asPortholeUser(result: SignInResult): SignInResult {
  if (!result.ok) return result;
  const name = result.identity.name.toLowerCase();
  const valid = UserName.safeParse(name);
  if (!valid.success) return refusal('unusable_name', `The name "${result.identity.name}" from ${PROVIDER_NAMES[result.identity.idp]} cannot be used here (${valid.error.issues[0]?.message ?? 'not a valid user name'}); ask an administrator`);
  return { ok: true, identity: { ...result.identity, name } };
}

export class IdentityProviders {
  constructor(
    readonly users: UserDirectory,
    private readonly ldap?: LdapProvider,
    readonly oidc?: OidcProvider,
    readonly guest?: GuestConfig,
  ) {}

  /** A guest of its own for each sign-in: nothing of one guest's is another's. */
  signInAsGuest(): Identity | undefined {
    return this.guest ? { name: `guest-${randomBytes(5).toString('hex')}`, groups: [], idp: 'guest' } : undefined;
  }

  /** Password sign-in; IdentityUnavailableError (503) when the provider that knows the name cannot answer. */
  async signIn(name: string, password: string): Promise<SignInResult> {
    if (!this.ldap || (await this.users.lookup(name))) {
      const user = await this.users.authenticate(name, password);
      return user ? { ok: true, identity: { name: user.name, groups: user.groups, idp: 'users' } } : refusal('bad_credentials', WRONG_PASSWORD);
    }
    return asPortholeUser((await this.ldap.authenticate(name, password)) ?? refusal('bad_credentials', WRONG_PASSWORD));
  }

  /** OpenID Connect: the launcher's ID token. */
  async signInWithIdToken(idToken: string): Promise<SignInResult | undefined> {
    return this.oidc ? asPortholeUser(await this.oidc.verify(idToken)) : undefined;
  }

  /** The person as their provider sees them now; undefined when gone or disabled. */
  async current(identity: Identity): Promise<Identity | undefined> {
    switch (identity.idp) {
      case 'users': {
        const user = await this.users.lookup(identity.name);
        return user ? { name: user.name, groups: user.groups, idp: 'users' } : undefined;
      }
      case 'ldap': {
        const now = this.ldap ? await this.ldap.current(identity) : undefined;
        return now && { ...now, name: now.name.toLowerCase() };
      }
      case 'oidc':
        // The issuer is asked again only at the next sign-in: its groups stand until the refresh family ends.
        return this.oidc ? identity : undefined;
      case 'guest':
        return this.guest ? identity : undefined;
      default:
        return undefined;
    }
  }

  /** What the sign-in screen offers. */
  describe(): { password: boolean; oidc?: { issuer: string; clientId: string; scopes: string[] }; guest?: boolean } {
    return { password: true, ...(this.oidc ? { oidc: { issuer: this.oidc.cfg.issuer, clientId: this.oidc.cfg.clientId, scopes: this.oidc.scopes } } : {}), ...(this.guest ? { guest: true } : {}) };
  }

  health(): Promise<UsersHealth> {
    return this.users.health();
  }

  /** Local accounts (the warning "no users yet" only matters when there is no directory either). */
  async localUsers(): Promise<number | undefined> {
    return this.ldap ? undefined : this.users.count();
  }
}
