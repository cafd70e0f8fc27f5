/**
 * Failures of talking to the agent, turned into sentences a person can act on. Pure: the agent
 * client gathers the facts (status, body, network error code) and these functions word them.
 * Codes are stable for the renderer to branch on; see docs/launcher.md.
 */
import { ErrorBody } from '../../cluster-agent/contract/index.js';
import { PortholeError } from '../../bridge/contract.js';

/** The node/undici error code of a failed fetch, wherever it is nested. */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const obj = current as { code?: unknown; errors?: unknown; cause?: unknown; name?: unknown };
    if (obj.name === 'TimeoutError') return 'TIMEOUT';
    if (typeof obj.code === 'string') return obj.code;
    if (Array.isArray(obj.errors) && obj.errors.length) current = obj.errors[0];
    else current = obj.cause;
  }
  return undefined;
}

const TLS_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

export function unreachableError(agent: string, code: string | undefined, timeoutMs: number): PortholeError {
  const host = safeHost(agent);
  if (code && /^ERR_SSL_WRONG_VERSION_NUMBER|EPROTO$/.test(code)) {
    return new PortholeError('agent_unreachable', `Porthole cannot reach the agent at ${agent}: it does not answer HTTPS. Check whether the address should start with http://.`);
  }
  if (code && TLS_CODES.test(code)) {
    return new PortholeError(
      'agent_unreachable',
      `Porthole cannot reach the agent at ${agent}: its TLS certificate is not trusted (${code}). Check the address, or install the agent's certificate authority on this machine.`,
    );
  }
  const reason =
    code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `the name "${host}" is not known`
    : code === 'TIMEOUT' ? `no answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`
    : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'the connection timed out'
    : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' ? 'the connection was closed unexpectedly'
    : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'there is no network route to it'
    : code ? `network error ${code}`
    : 'network error';
  return new PortholeError('agent_unreachable', `Porthole cannot reach the agent at ${agent}: ${reason}. Check the address or whether the agent runs.`);
}

function safeHost(agent: string): string {
  try {
    return new URL(agent).hostname;
  } catch {
    return agent;
  }
}

export interface HttpFailure {
  agent: string;
  /** "POST /api/v1/auth/login", for messages about unexpected answers */
  what: string;
  status: number;
  /** parsed JSON body if it was JSON */
  body: unknown;
  retryAfter?: string | null;
  /** true for the login call: 401 means wrong credentials rather than an expired sign-in */
  isLogin?: boolean;
  isRefresh?: boolean;
  /** the ID token hand-over: 401 carries the agent's reason (expired, another issuer, ...) */
  isOidc?: boolean;
  /** redeeming a device enrolment code: 401 is the code's problem */
  isEnroll?: boolean;
}

export function retryAfterSeconds(header: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(1, Math.ceil((date - nowMs) / 1000)) : undefined;
}

/** Maps a non-2xx answer to a PortholeError. */
export function httpError(f: HttpFailure): PortholeError {
  const parsed = ErrorBody.safeParse(f.body);
  const agentMessage = parsed.success ? parsed.data.error.message : undefined;
  if (f.status === 401 && f.isEnroll) return new PortholeError('enrolment_refused', agentMessage ?? 'The agent refused the enrolment code. Ask your administrator for a new one.');
  if (f.status === 401 && parsed.success && parsed.data.error.reason === 'device_revoked') {
    return new PortholeError(f.isLogin || f.isOidc ? 'device_revoked' : 'signed_out', "This device's enrolment was revoked, so nobody can sign in on it. Ask your administrator to enrol it again.", 'device_revoked');
  }
  if (f.status === 401) {
    // A refusal other than a wrong password (a disabled account, a name that cannot be used) says its own sentence.
    if (f.isLogin && agentMessage && !/^Wrong user name or password/.test(agentMessage)) return new PortholeError('sign_in_refused', agentMessage);
    if (f.isLogin) return new PortholeError('wrong_password', 'The user name or password is wrong. Check them (and Caps Lock) and try again.');
    if (f.isOidc) return new PortholeError('sign_in_refused', agentMessage ?? 'The agent refused the sign-in with your company account. Try again.');
    if (f.isRefresh) {
      if (!agentMessage) return new PortholeError('signed_out', 'Your sign-in has ended (it expired or was signed out on the agent). Sign in again.');
      const why = agentMessage.replace(/[.\s]+$/, '');
      const tail = /sign in again/i.test(why) ? '.' : '. Sign in again.';
      return new PortholeError('signed_out', `Your sign-in has ended: ${why.charAt(0).toLowerCase()}${why.slice(1)}${tail}`);
    }
    return new PortholeError('signed_out', 'The agent no longer accepts your sign-in. Sign in again.');
  }
  if (f.status === 429) {
    const wait = retryAfterSeconds(f.retryAfter);
    return new PortholeError(
      'rate_limited',
      `The agent at ${f.agent} is refusing requests for a moment because there were too many. Wait ${wait ? `${wait} s` : 'a minute'} and try again.`,
    );
  }
  if (f.status >= 500) {
    if (agentMessage && parsed.success && parsed.data.error.code !== 'internal') return new PortholeError(parsed.data.error.code, agentMessage);
    return new PortholeError(
      'agent_error',
      `The agent at ${f.agent} failed (HTTP ${f.status}${agentMessage ? `: ${agentMessage}` : ''}). Try again in a moment; if it keeps failing, check the agent's log.`,
    );
  }
  if (f.status === 409 && parsed.success && parsed.data.error.reason === 'opened_elsewhere') {
    return new PortholeError('opened_elsewhere', 'You opened this desktop on another device. Open it here to carry on here; the other device then stops showing it.');
  }
  if (parsed.success) return new PortholeError(parsed.data.error.code, agentMessage!);
  return notPorthole(f.agent, `${f.what} answered HTTP ${f.status}`);
}

export function notPorthole(agent: string, detail: string): PortholeError {
  return new PortholeError('not_porthole', `The server at ${agent} answered, but not as a Porthole agent (${detail}). Check the address.`);
}

export function incompatibleAgent(agent: string, what: string, issue: string): PortholeError {
  return new PortholeError(
    'incompatible_agent',
    `The agent at ${agent} sent an answer this launcher does not understand (${what}: ${issue}). Update the launcher or the agent so their versions match.`,
  );
}

export function redirected(agent: string, location: string | null): PortholeError {
  return new PortholeError(
    'invalid_agent_url',
    location
      ? `The server at ${agent} redirects to ${location}. Use the agent's own address instead.`
      : `The server at ${agent} answered with a redirect. Use the agent's own address instead.`,
  );
}

/** Anything else thrown inside the core, worded without leaking internals. */
export function toPortholeError(error: unknown): PortholeError {
  if (error instanceof PortholeError) return error;
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new PortholeError('internal', `Porthole ran into an unexpected problem: ${message}. Try again; if it keeps happening, restart Porthole.`);
}
