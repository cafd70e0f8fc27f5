/**
 * Sign-in against an LDAP directory (ldapts): bind as the person, with their DN from a template
 * (`uid={user},ou=people,…`) or found by a search under a service account (bindDn + password file).
 * Groups from groupOfNames (member = the person's DN) and posixGroup (memberUid = the name). ldaps://
 * or StartTLS with a CA file. A directory that cannot be reached is IdentityUnavailableError (503 with a
 * sentence), never a wrong-password 401 or a 500; an account the directory marks disabled is refused.
 */
import { readFileSync } from 'node:fs';
import { Client, InvalidCredentialsError, NoSuchObjectError, type Entry } from 'ldapts';
import { escapeDnValue, escapeFilterValue, fillTemplate } from './ldap-escape.js';
import { IdentityUnavailableError, refusal, WRONG_PASSWORD, type Identity, type PasswordProvider, type SignInResult } from './types.js';

export interface LdapConfig {
  url: string;
  /** upgrade an ldap:// connection with StartTLS before anything is sent */
  startTls?: boolean;
  /** PEM CA certificate(s) the directory's certificate must chain to (default: the system's) */
  caFile?: string;
  /** the person's DN: `{user}` is replaced by their (escaped) name */
  userDn?: string;
  /** or: a service account that searches for the person */
  bindDn?: string;
  bindPasswordFile?: string;
  userSearchBase?: string;
  /** `{user}` is replaced by the escaped name; default `(uid={user})` */
  userFilter?: string;
  groupSearchBase?: string;
  /** the attribute whose value is the person's name (and posixGroup's memberUid); default uid */
  usernameAttribute?: string;
  /** an entry matching this is disabled; default OpenLDAP ppolicy's lock and 389/FreeIPA's nsAccountLock */
  disabledFilter?: string;
  timeoutSeconds?: number;
}

export const DEFAULT_DISABLED_FILTER = '(|(pwdAccountLockedTime=*)(nsAccountLock=TRUE))';

const first = (v: Entry[string] | undefined): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};

export class LdapProvider implements PasswordProvider {
  readonly source = 'ldap' as const;
  private readonly ca: Buffer | undefined;
  private readonly bindPassword: string | undefined;

  constructor(private readonly cfg: LdapConfig) {
    // Read once at start-up: a missing file is a configuration error the agent reports before serving.
    this.ca = cfg.caFile ? readFileSync(cfg.caFile) : undefined;
    this.bindPassword = cfg.bindPasswordFile ? readFileSync(cfg.bindPasswordFile, 'utf8').trim() : undefined;
  }

  private get timeoutMs(): number {
    return (this.cfg.timeoutSeconds ?? 5) * 1000;
  }

  /** A connected client (StartTLS done), or IdentityUnavailableError saying why. */
  private async open(): Promise<Client> {
    const tlsOptions = this.ca ? { ca: [this.ca] } : {};
    // ldapts speaks TLS from the first byte whenever it is given TLS options: only for ldaps:// then.
    const secure = this.cfg.url.startsWith('ldaps:');
    const client = new Client({ url: this.cfg.url, timeout: this.timeoutMs, connectTimeout: this.timeoutMs, ...(secure ? { tlsOptions } : {}), strictDN: true });
    try {
      // The certificate is checked against the URL's host (without it Node checks "localhost").
      if (this.cfg.startTls) await client.startTLS({ ...tlsOptions, host: new URL(this.cfg.url).hostname.replace(/^\[|\]$/g, '') });
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw this.unavailable(err);
    }
  }

  private unavailable(err: unknown): IdentityUnavailableError {
    const e = err as NodeJS.ErrnoException;
    const why = e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? `: ${e.message}` : ''}` : e.message;
    return new IdentityUnavailableError(`The company directory (${this.cfg.url}) cannot be reached (${why}); try again in a moment`);
  }

  /** Runs `fn` on a fresh connection; anything but a refused bind becomes "directory unavailable". */
  private async session<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.open();
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof IdentityUnavailableError || err instanceof InvalidCredentialsError) throw err;
      throw this.unavailable(err);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** The person's DN: from the template, or searched for under the service account (undefined: no such person). */
  private async findDn(client: Client, name: string): Promise<string | undefined> {
    if (this.cfg.userDn) return fillTemplate(this.cfg.userDn, name, escapeDnValue);
    try {
      await client.bind(this.cfg.bindDn!, this.bindPassword ?? '');
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw new IdentityUnavailableError(`The directory refused the agent's service account (${this.cfg.bindDn}); ask an administrator to check bindDn and its password file`);
      throw err;
    }
    const filter = fillTemplate(this.cfg.userFilter ?? '(uid={user})', name, escapeFilterValue);
    const { searchEntries } = await client.search(this.cfg.userSearchBase!, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 2 });
    // Two people for one name: refuse rather than guess.
    return searchEntries.length === 1 ? searchEntries[0]!.dn : undefined;
  }

  /** After a bind: the canonical name, whether disabled, and the groups. */
  private async describe(client: Client, dn: string, name: string): Promise<{ identity: Identity; disabled: boolean }> {
    const attr = this.cfg.usernameAttribute ?? 'uid';
    let entry: Entry | undefined;
    try {
      entry = (await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [attr] })).searchEntries[0];
    } catch (err) {
      if (!(err instanceof NoSuchObjectError)) throw err;
    }
    const canonical = first(entry?.[attr]) ?? name;
    const disabled = (await client.search(dn, { scope: 'base', filter: this.cfg.disabledFilter ?? DEFAULT_DISABLED_FILTER, attributes: ['1.1'] }).catch((err: unknown) => {
      if (err instanceof NoSuchObjectError) return { searchEntries: [] };
      throw err;
    })).searchEntries.length > 0;
    let groups: string[] = [];
    if (this.cfg.groupSearchBase) {
      const filter = `(|(&(objectClass=groupOfNames)(member=${escapeFilterValue(dn)}))(&(objectClass=posixGroup)(memberUid=${escapeFilterValue(canonical)})))`;
      const { searchEntries } = await client.search(this.cfg.groupSearchBase, { scope: 'sub', filter, attributes: ['cn'] });
      groups = [...new Set(searchEntries.map((e) => first(e['cn'])).filter((g): g is string => g !== undefined))].sort();
    }
    return { identity: { name: canonical, groups, idp: 'ldap' }, disabled };
  }

  async authenticate(name: string, password: string): Promise<SignInResult | undefined> {
    // An empty password is an "unauthenticated bind" that directories accept: never a sign-in.
    if (password.length === 0) return refusal('bad_credentials', WRONG_PASSWORD);
    try {
      return await this.session(async (client) => {
        const dn = await this.findDn(client, name);
        if (dn === undefined) return undefined;
        await client.bind(dn, password);
        const { identity, disabled } = await this.describe(client, dn, name);
        if (disabled) return refusal('disabled', 'This account is disabled in the company directory; ask an administrator');
        return { ok: true, identity } as const;
      });
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return refusal('bad_credentials', WRONG_PASSWORD);
      throw err;
    }
  }

  /**
   * At a refresh: with a service account, the person is looked up again (gone or disabled: undefined;
   * groups as they are now). With a DN template alone there is no way in without their password, so
   * the groups they signed in with stand until they sign in again.
   */
  async current(identity: Identity): Promise<Identity | undefined> {
    if (!this.cfg.bindDn) return identity;
    return this.session(async (client) => {
      const dn = await this.findDn(client, identity.name);
      if (dn === undefined) return undefined;
      const { identity: now, disabled } = await this.describe(client, dn, identity.name);
      return disabled ? undefined : now;
    });
  }
}
