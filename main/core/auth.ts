/**
 * The sign-in: access token in memory, refresh token only in the SecretStore. Refreshes shortly
 * before expiry and when the agent answers 401 to an access token; refreshes are single-flight,
 * because the refresh token rotates and a second concurrent refresh would present a spent one.
 */
import type { AuthProviders, TokenResponse, User } from '../../cluster-agent/contract/index.js';
import { PortholeError, type LauncherState } from '../../bridge/contract.js';
import { createAgentClient, type AgentClient, type AgentClientOptions } from './agent-client.js';
import type { Logger } from './logger.js';
import { keychainProblemSentence, MemorySecretStore, type SecretStore } from './secret-store.js';
import { isTokenStale, refreshDelayMs } from './timing.js';

/**
 * The sign-in lives in the keychain under a key of its agent and person (`sign-in:<agent URL>#<user>`),
 * one item holding agent, person and refresh token together so they never disagree; the item `sign-in`
 * names whose sign-in this device restores at start (no secret in it). An item of the old form (the whole
 * sign-in under `sign-in`) is still read.
 */
export const SIGN_IN_KEY = 'sign-in';
export const signInKey = (agentUrl: string, user: string) => `sign-in:${agentUrl}#${user}`;

interface StoredSignIn {
  agentUrl: string;
  refreshToken: string;
  user: User;
}

function parsePointer(text: string | undefined): { agentUrl: string; user: string } | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as { agentUrl?: unknown; user?: unknown };
    return typeof v.agentUrl === 'string' && typeof v.user === 'string' ? { agentUrl: v.agentUrl, user: v.user } : undefined;
  } catch {
    return undefined;
  }
}

/** The sign-in the device restores: through the `sign-in` pointer, or an item of the old form. */
async function readStored(store: SecretStore): Promise<StoredSignIn | undefined> {
  const head = await store.get(SIGN_IN_KEY);
  const legacy = parseStored(head);
  if (legacy) return legacy;
  const pointer = parsePointer(head);
  return pointer ? parseStored(await store.get(signInKey(pointer.agentUrl, pointer.user))) : undefined;
}

function parseStored(text: string | undefined): StoredSignIn | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<StoredSignIn>;
    if (typeof v.agentUrl === 'string' && typeof v.refreshToken === 'string' && v.user && typeof v.user.name === 'string') {
      return { agentUrl: v.agentUrl, refreshToken: v.refreshToken, user: { name: v.user.name, groups: Array.isArray(v.user.groups) ? v.user.groups : [] } };
    }
  } catch {
    // A damaged item is treated as no sign-in; the next sign-in overwrites it.
  }
  return undefined;
}

export interface AuthOptions {
  /** may still be opening (the keychain probe); every use waits for it */
  store: SecretStore | Promise<SecretStore>;
  logger: Logger;
  client: AgentClientOptions;
  defaultAgentUrl?: string;
  /** called when the sign-in ends without the person asking (refresh refused) */
  onLost(message: string): void;
  now?: () => number;
}

export function signedOutError(): PortholeError {
  return new PortholeError('signed_out', 'You are not signed in. Sign in to continue.');
}

export class Auth {
  private store: Promise<SecretStore>;
  private client?: AgentClient;
  private user?: User;
  private access?: { token: string; expiresAtMs: number };
  private restored = false;
  private lastAgentUrl?: string;
  private refreshing?: Promise<string>;
  private timer?: NodeJS.Timeout;
  /** bumps on every sign-in/out, so late answers of an older sign-in are dropped */
  private epoch = 0;
  private readonly now: () => number;

  /** the store once open, for state(): whether the keychain is in use, and if not, why */
  private opened?: SecretStore;

  constructor(private readonly opts: AuthOptions) {
    this.store = Promise.resolve(opts.store).then((store) => (this.opened = store));
    this.now = opts.now ?? Date.now;
  }

  state(): LauncherState {
    const problem = this.opened?.problem;
    const keychain = problem ? { keychain: { available: false as const, message: problem } } : {};
    if (this.client && this.user) {
      return { signedIn: true, agentUrl: this.client.agentUrl, user: { name: this.user.name, groups: [...this.user.groups] }, restored: this.restored, ...keychain };
    }
    const agentUrl = this.lastAgentUrl ?? this.opts.defaultAgentUrl;
    return agentUrl ? { signedIn: false, agentUrl, ...keychain } : { signedIn: false, ...keychain };
  }

  get signedIn(): boolean {
    return !!(this.client && this.user);
  }

  /** The client for the current sign-in (unauthenticated calls like health use it too). */
  currentClient(): AgentClient | undefined {
    return this.client;
  }

  /**
   * Start-up: bring back the sign-in kept in the keychain. Never throws; returns the error when the
   * agent could not be reached (the sign-in is kept and refreshed once it answers).
   */
  async restore(): Promise<PortholeError | undefined> {
    let stored: StoredSignIn | undefined;
    try {
      stored = await readStored(await this.store);
    } catch (error) {
      this.opts.logger.warn(`could not read the saved sign-in: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!stored) return;
    try {
      this.client = createAgentClient(stored.agentUrl, this.opts.client);
    } catch {
      await this.forget();
      return;
    }
    this.user = stored.user;
    this.restored = true;
    this.lastAgentUrl = this.client.agentUrl;
    try {
      await this.refresh();
      this.opts.logger.info(`restored the sign-in of ${stored.user.name} at ${this.client.agentUrl}`);
    } catch (error) {
      // Unreachable: keep the sign-in and refresh lazily once the agent answers again.
      // Refused: refresh() has already ended the sign-in.
      if (error instanceof PortholeError && error.code === 'agent_unreachable') {
        this.opts.logger.warn(`restored the sign-in of ${stored.user.name}, but the agent does not answer yet: ${error.message}`);
        return error;
      }
    }
    return undefined;
  }

  async signIn(agentUrl: string, username: string, password: string): Promise<LauncherState> {
    return this.signInWith(agentUrl, (client) => client.login(username, password));
  }

  /** A company sign-in: the ID token from the issuer, exchanged at the agent. */
  async signInWithIdToken(agentUrl: string, idToken: string): Promise<LauncherState> {
    return this.signInWith(agentUrl, (client) => client.oidcLogin(idToken));
  }

  /** The agent's sign-in options (no sign-in needed). */
  async providers(agentUrl: string): Promise<AuthProviders> {
    return createAgentClient(agentUrl, this.opts.client).providers();
  }

  private async signInWith(agentUrl: string, obtain: (client: AgentClient) => Promise<TokenResponse>): Promise<LauncherState> {
    const client = createAgentClient(agentUrl, this.opts.client);
    this.lastAgentUrl = client.agentUrl;
    const tokens = await obtain(client);
    // A new sign-in replaces the old one; revoke the old refresh token on its agent, quietly.
    if (this.signedIn) await this.signOut({ quiet: true });
    this.epoch++;
    this.client = client;
    this.user = tokens.user;
    this.restored = false;
    await this.accept(tokens);
    return this.state();
  }

  async signOut(opts: { quiet?: boolean } = {}): Promise<void> {
    const client = this.client;
    const access = this.access?.token;
    let stored: StoredSignIn | undefined;
    try {
      stored = await readStored(await this.store);
    } catch {
      stored = undefined;
    }
    this.clear();
    await this.forget();
    if (client && stored) {
      // Best effort: the agent may be down; the token is gone from here either way.
      await client.logout(stored.refreshToken, access).catch((error: unknown) => {
        if (!opts.quiet) this.opts.logger.warn(`signed out here, but the agent did not confirm: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
  }

  /** A valid access token, refreshing first when it is missing or about to expire. */
  async token(): Promise<string> {
    if (!this.signedIn) throw signedOutError();
    if (this.access && !isTokenStale(this.access.expiresAtMs, this.now())) return this.access.token;
    return this.refresh();
  }

  /**
   * Runs an authenticated call; on 401 (the agent says the access token expired or is unknown)
   * refreshes once and retries. A refused refresh ends the sign-in.
   */
  async withToken<T>(fn: (client: AgentClient, token: string) => Promise<T>): Promise<T> {
    const token = await this.token();
    const client = this.client;
    if (!client) throw signedOutError();
    try {
      return await fn(client, token);
    } catch (error) {
      if (!(error instanceof PortholeError) || error.code !== 'signed_out') throw error;
      const fresh = this.access && this.access.token !== token && !isTokenStale(this.access.expiresAtMs, this.now()) ? this.access.token : await this.refresh(token);
      return fn(client, fresh);
    }
  }

  /** Rotates the refresh token. Single-flight; `spent` skips the refresh if another already replaced it. */
  refresh(spent?: string): Promise<string> {
    if (this.refreshing) return this.refreshing;
    if (spent && this.access && this.access.token !== spent) return Promise.resolve(this.access.token);
    const run = this.doRefresh().finally(() => {
      if (this.refreshing === run) this.refreshing = undefined;
    });
    this.refreshing = run;
    return run;
  }

  private async doRefresh(): Promise<string> {
    const client = this.client;
    const epoch = this.epoch;
    if (!client) throw signedOutError();
    const stored = await readStored(await this.store);
    if (!stored) {
      this.lose('Your saved sign-in is gone from the keychain. Sign in again.');
      throw signedOutError();
    }
    let tokens: TokenResponse;
    try {
      tokens = await client.refresh(stored.refreshToken);
    } catch (error) {
      if (error instanceof PortholeError && error.code === 'signed_out' && epoch === this.epoch) {
        await this.forget();
        this.lose(error.message);
      }
      throw error;
    }
    if (epoch !== this.epoch) throw signedOutError();
    this.user = tokens.user;
    await this.accept(tokens);
    return tokens.accessToken;
  }

  /** Keeps new tokens: access in memory, refresh token in the store, and the next refresh timed. */
  private async accept(tokens: TokenResponse): Promise<void> {
    this.access = { token: tokens.accessToken, expiresAtMs: this.now() + tokens.expiresIn * 1000 };
    const stored: StoredSignIn = { agentUrl: this.client!.agentUrl, refreshToken: tokens.refreshToken, user: tokens.user };
    const save = async (store: SecretStore) => {
      await store.set(signInKey(stored.agentUrl, stored.user.name), JSON.stringify(stored));
      await store.set(SIGN_IN_KEY, JSON.stringify({ agentUrl: stored.agentUrl, user: stored.user.name }));
    };
    try {
      await save(await this.store);
    } catch (error) {
      // Losing the keychain mid-run must not lose the sign-in: keep going in memory, and say so.
      this.opts.logger.warn(`${error instanceof Error ? error.message : String(error)}; keeping the sign-in in memory only, it will not survive a restart`);
      const memory = new MemorySecretStore(keychainProblemSentence(`it stopped working: ${error instanceof Error ? error.message : String(error)}`));
      await save(memory);
      this.store = Promise.resolve(memory);
      this.opened = memory;
    }
    this.schedule(tokens.expiresIn);
  }

  private schedule(expiresIn: number): void {
    if (this.timer) clearTimeout(this.timer);
    const epoch = this.epoch;
    this.timer = setTimeout(() => {
      if (epoch !== this.epoch) return;
      this.refresh().catch((error: unknown) => {
        // Unreachable agent: the next call refreshes lazily. Refused: already reported via onLost.
        this.opts.logger.warn(`could not refresh the sign-in ahead of time: ${error instanceof Error ? error.message : String(error)}`);
      });
    }, refreshDelayMs(expiresIn));
    this.timer.unref();
  }

  private lose(message: string): void {
    this.clear();
    this.opts.onLost(message);
  }

  private clear(): void {
    this.epoch++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.client = undefined;
    this.user = undefined;
    this.access = undefined;
    this.restored = false;
    this.refreshing = undefined;
  }

  /** Removes the restored person's sign-in item and the pointer to it. */
  private async forget(): Promise<void> {
    const store = await this.store;
    try {
      const pointer = parsePointer(await store.get(SIGN_IN_KEY));
      if (pointer) await store.delete(signInKey(pointer.agentUrl, pointer.user));
      await store.delete(SIGN_IN_KEY);
    } catch (error) {
      this.opts.logger.warn(`could not remove the saved sign-in: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** For tests and diagnostics: when the access token runs out (ms since epoch). */
  accessExpiresAt(): number | undefined {
    return this.access?.expiresAtMs;
  }
}
