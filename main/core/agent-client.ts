/**
 * The agent's v1 HTTP API as functions. Every answer is checked against the contract's zod schemas;
 * every failure becomes a PortholeError with a sentence (see errors.ts). Stateless: tokens are
 * passed in by the caller (auth.ts owns them).
 */
import type { z } from 'zod';
import {
  AuthProviders,
  ConnectResponse,
  type ConnectRequest,
  Health,
  Me,
  Session,
  SessionList,
  TokenResponse,
  routes,
  DEVICE_PROOF_HEADER,
  EnrolledDevice,
  type DevicePublicKey,
} from '../../cluster-agent/contract/index.js';
import { parseAgentUrl, type AgentBase } from './agent-url.js';
import { httpError, incompatibleAgent, networkErrorCode, notPorthole, redirected, unreachableError } from './errors.js';

export type FetchFn = typeof fetch;

export interface AgentClientOptions {
  fetch?: FetchFn;
  timeoutMs?: number;
  /** an enrolled device's proof for this agent, sent with sign-ins and refreshes (none: not enrolled) */
  deviceProof?: (agentUrl: string) => Promise<string | undefined>;
}

interface Call<S extends z.ZodType | undefined> {
  method: 'GET' | 'POST' | 'DELETE';
  route: string;
  token?: string;
  body?: unknown;
  schema: S;
  isLogin?: boolean;
  isRefresh?: boolean;
  isOidc?: boolean;
  isEnroll?: boolean;
}

type Result<S> = S extends z.ZodType ? z.infer<S> : unknown;

export interface AgentClient {
  readonly agentUrl: string;
  login(username: string, password: string): Promise<TokenResponse>;
  /** the ID token of a company sign-in (OpenID Connect), exchanged for the agent's tokens */
  oidcLogin(idToken: string): Promise<TokenResponse>;
  /** what the sign-in screen offers; no sign-in needed */
  providers(): Promise<AuthProviders>;
  refresh(refreshToken: string): Promise<TokenResponse>;
  logout(refreshToken: string, accessToken?: string): Promise<void>;
  me(token: string): Promise<Me>;
  listSessions(token: string): Promise<Session[]>;
  getSession(token: string, id: string): Promise<Session>;
  createSession(token: string, template: string): Promise<Session>;
  deleteSession(token: string, id: string): Promise<Session | undefined>;
  /** `viewer`: this launcher's device id, and whether the person asked to open the desktop here */
  connect(token: string, id: string, viewer?: ConnectRequest): Promise<ConnectResponse>;
  health(): Promise<z.infer<typeof Health>>;
  /** redeems an enrolment code for the device holding this key */
  enrollDevice(code: string, publicKey: DevicePublicKey): Promise<EnrolledDevice>;
}

export function createAgentClient(agentUrl: string, options: AgentClientOptions = {}): AgentClient {
  const base: AgentBase = parseAgentUrl(agentUrl);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call<S extends z.ZodType | undefined>(c: Call<S>): Promise<Result<S>> {
    const what = `${c.method} ${c.route}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (c.token) headers.authorization = `Bearer ${c.token}`;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    if ((c.isLogin || c.isRefresh || c.isOidc) && options.deviceProof) {
      const proof = await options.deviceProof(base.display);
      if (proof) headers[DEVICE_PROOF_HEADER] = proof;
    }
    let res: Response;
    try {
      res = await doFetch(base.url(c.route), {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        // A redirect would drop the Authorization header or send it elsewhere: say so instead.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unreachableError(base.display, networkErrorCode(error), timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw unreachableError(base.display, networkErrorCode(error), timeoutMs);
    }
    if (res.status >= 300 && res.status < 400) throw redirected(base.display, res.headers.get('location'));
    const body = parseJson(text);
    if (!res.ok) {
      throw httpError({
        agent: base.display,
        what,
        status: res.status,
        body,
        retryAfter: res.headers.get('retry-after'),
        isLogin: c.isLogin,
        isRefresh: c.isRefresh,
        isOidc: c.isOidc,
        isEnroll: c.isEnroll,
      });
    }
    if (!c.schema) return body as Result<S>;
    if (body === NOT_JSON) throw notPorthole(base.display, `${what} did not answer JSON`);
    const parsed = c.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw incompatibleAgent(base.display, what, issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'unexpected shape');
    }
    return parsed.data as Result<S>;
  }

  return {
    agentUrl: base.display,
    login: (username, password) => call({ method: 'POST', route: routes.login, body: { username, password }, schema: TokenResponse, isLogin: true }),
    oidcLogin: (idToken) => call({ method: 'POST', route: routes.oidcLogin, body: { idToken }, schema: TokenResponse, isOidc: true }),
    providers: () => call({ method: 'GET', route: routes.providers, schema: AuthProviders }),
    enrollDevice: (code, publicKey) => call({ method: 'POST', route: routes.enrollDevice, body: { code, publicKey }, schema: EnrolledDevice, isEnroll: true }),
    refresh: (refreshToken) => call({ method: 'POST', route: routes.refresh, body: { refreshToken }, schema: TokenResponse, isRefresh: true }),
    logout: async (refreshToken, accessToken) => {
      await call({ method: 'POST', route: routes.logout, body: { refreshToken }, token: accessToken, schema: undefined });
    },
    me: (token) => call({ method: 'GET', route: routes.me, token, schema: Me }),
    listSessions: async (token) => (await call({ method: 'GET', route: routes.sessions, token, schema: SessionList })).sessions,
    getSession: (token, id) => call({ method: 'GET', route: routes.session(id), token, schema: Session }),
    createSession: (token, template) => call({ method: 'POST', route: routes.sessions, token, body: { template }, schema: Session }),
    deleteSession: async (token, id) => {
      // The contract leaves DELETE's body open (202 with the session, or 204): use it when it is one.
      const body = await call({ method: 'DELETE', route: routes.session(id), token, schema: undefined });
      const parsed = Session.safeParse(body);
      return parsed.success ? parsed.data : undefined;
    },
    connect: (token, id, viewer) => call({ method: 'POST', route: routes.connect(id), token, schema: ConnectResponse, ...(viewer ? { body: viewer } : {}) }),
    health: () => call({ method: 'GET', route: '/healthz', schema: Health }),
  };
}

const NOT_JSON = Symbol('not json');

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}
