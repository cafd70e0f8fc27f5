/**
 * Who a person is, as the identity providers behind one interface say: the users file, an LDAP
 * directory, an OpenID Connect issuer. The agent signs the result into its access token (name, groups,
 * provider), so requests do not ask the provider again; a refresh does (`current`), where it can.
 */

/** Which provider vouched for a person. */
export type IdentitySource = 'users' | 'ldap' | 'oidc' | 'guest';

export interface Identity {
  name: string;
  groups: string[];
  idp: IdentitySource;
}

/** A sign-in refused for a reason the person is told (always a 401). */
export type SignInRefusal = { ok: false; reason: 'bad_credentials' | 'disabled' | 'unusable_name' | 'id_token_rejected'; message: string };
export type SignInResult = { ok: true; identity: Identity } | SignInRefusal;

/** The provider cannot answer now (a directory that is down or refuses the service account): 503. */
export class IdentityUnavailableError extends Error {}

/** A provider that checks a user name and password. */
export interface PasswordProvider {
  readonly source: IdentitySource;
  /** undefined: this provider does not know the name (the next one may); never throws for bad credentials. */
  authenticate(name: string, password: string): Promise<SignInResult | undefined>;
  /**
   * The person as the provider sees them now (a refresh): undefined when they are gone or disabled.
   * A provider that cannot look people up without their password answers with what it vouched for.
   */
  current(identity: Identity): Promise<Identity | undefined>;
}

export const refusal = (reason: SignInRefusal['reason'], message: string): SignInRefusal => ({ ok: false, reason, message });
export const WRONG_PASSWORD = 'Wrong user name or password';
