/**
 * The stream WebSockets. The connect token is checked in a preValidation hook, i.e. BEFORE the
 * upgrade: a bad token gets a plain HTTP 401/404/409 JSON answer and no WebSocket is ever opened.
 * A request that is not a WebSocket upgrade at all is refused (426) before that, so following a
 * stream URL in a browser or with curl does not use up its single-use token.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CONNECT_TOKEN_PARAM, ErrorBody, OPENED_ELSEWHERE_CLOSE, OPENED_ELSEWHERE_MESSAGE, SessionId, routes } from '../../contract/index.js';
import type { AuthFailure } from '../../contract/index.js';
import { TokenError, type TokenProblem } from '../access-tokens.js';
import { ApiError, conflict, notFound, unauthorized } from '../api-error.js';
import type { AgentDeps } from '../deps.js';
import type { RemoteTakeover } from '../../runtime/types.js';
import { runVncGateway } from '../gateway/vnc-gateway.js';
import { runWebRtcRelay } from '../gateway/webrtc-relay.js';
import { iceServersFor } from '../ice-servers.js';

const CONNECT_FAILURE: Record<TokenProblem, AuthFailure> = {
  missing: 'connect_token_missing',
  expired: 'connect_token_expired',
  invalid: 'connect_token_invalid',
  reused: 'connect_token_reused',
  wrong_session: 'connect_token_wrong_session',
};
import { apiErrors, paramErrors } from './responses.js';


const NOT_USED = 'the token in it has not been used';
const PROTOCOL_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * What `ws` would refuse in the handshake, checked before the connect token is: a request that
 * cannot become a WebSocket must not use up its single-use token (and `ws` would answer in plain
 * text). Undefined when the handshake is good.
 */
export function websocketHandshakeProblem(
  isUpgrade: boolean,
  headers: Record<string, string | string[] | undefined>,
): { status: number; message: string; headers: Record<string, string> } | undefined {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  if (!isUpgrade || one('upgrade')?.toLowerCase() !== 'websocket') {
    return {
      status: 426,
      message: `This is a stream URL: open it as a WebSocket (Connection: Upgrade, Upgrade: websocket); ${NOT_USED}`,
      headers: { upgrade: 'websocket', connection: 'Upgrade' },
    };
  }
  const version = one('sec-websocket-version');
  if (version !== '13' && version !== '8') {
    return { status: 426, message: `Only WebSocket version 13 is spoken here (Sec-WebSocket-Version: 13); ${NOT_USED}`, headers: { 'sec-websocket-version': '13' } };
  }
  if (!/^[+/0-9A-Za-z]{22}==$/.test(one('sec-websocket-key') ?? '')) {
    return { status: 400, message: `The WebSocket handshake has no valid Sec-WebSocket-Key (16 bytes, base64); ${NOT_USED}`, headers: {} };
  }
  const protocols = one('sec-websocket-protocol');
  if (protocols !== undefined) {
    const names = protocols.split(',').map((p) => p.trim());
    if (names.some((n) => !PROTOCOL_NAME.test(n)) || new Set(names).size !== names.length) {
      return { status: 400, message: `Sec-WebSocket-Protocol must be a comma-separated list of distinct protocol names; ${NOT_USED}`, headers: {} };
    }
  }
  return undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** whose connect token opened this stream (set by the token check) */
    streamUser?: string;
    /** the device it was asked for, and whether the person asked to open it there (roaming) */
    streamViewer?: { device?: string; takeOver: boolean };
  }
}

const StreamQuery = z.object({ [CONNECT_TOKEN_PARAM]: z.string().max(4096).optional() });
const StreamParams = z.object({ id: SessionId });

export async function streamRoutes(app: FastifyInstance, deps: AgentDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  // onRequest, before anything looks at the token. `req.ws` is set by @fastify/websocket's own
  // (root-level, so earlier) onRequest hook.
  async function requireUpgrade(req: FastifyRequest): Promise<void> {
    const problem = websocketHandshakeProblem(req.ws, req.headers);
    if (problem) throw new ApiError(problem.status, 'bad_request', problem.message, problem.headers);
  }

  // @fastify/websocket hides WebSocket routes from the OpenAPI document; these are part of the
  // contract (and answer plain HTTP errors before the upgrade), so they are shown.
  app.decorateRequest('streamUser', undefined);
  app.decorateRequest('streamViewer', undefined);
  app.addHook('onRoute', (route) => {
    if (route.websocket && route.schema) route.schema.hide = false;
  });

  async function checkConnectToken(req: FastifyRequest): Promise<void> {
    const id = StreamParams.safeParse(req.params);
    if (!id.success) throw notFound('There is no such session');
    const token = (req.query as Record<string, unknown>)[CONNECT_TOKEN_PARAM];
    if (typeof token !== 'string' || token === '') {
      throw unauthorized(`Add the connect token from POST ${routes.connect(id.data.id)} as ?${CONNECT_TOKEN_PARAM}=`, 'connect_token_missing');
    }
    try {
      const claims = await deps.tokens.consumeConnectToken(token, id.data.id);
      const s = await deps.runtime.get(claims.session);
      if (!s || s.user !== claims.user) throw notFound(`You have no session "${id.data.id}"`);
      if (s.phase !== 'Running') throw conflict(`Session "${s.id}" is not running (phase ${s.phase})`);
      req.streamUser = claims.user;
      req.streamViewer = { ...(claims.device ? { device: claims.device } : {}), takeOver: claims.takeOver };
    } catch (err) {
      if (err instanceof TokenError) throw unauthorized(err.message, CONNECT_FAILURE[err.problem]);
      throw err;
    }
  }

  const endOpenedElsewhere = (log: FastifyRequest['log']) => (ended: { device?: string; end(code: number, reason: string): void }) => {
    log.info({ device: ended.device }, 'stream ended: the desktop was opened on another device');
    ended.end(OPENED_ELSEWHERE_CLOSE, OPENED_ELSEWHERE_MESSAGE);
  };

  /**
   * Registers the stream's viewer; a takeover from another device ends it with the sentence. Its own
   * takeover is announced to the other replicas (a runtime several agents serve), which end theirs.
   */
  function watchViewer(id: string, viewer: FastifyRequest['streamViewer'], end: (code: number, reason: string) => void, log: FastifyRequest['log']): () => void {
    const leave = deps.viewers.add(id, { ...(viewer?.device ? { device: viewer.device } : {}), end }, viewer?.takeOver ?? false, endOpenedElsewhere(log));
    if (viewer?.takeOver && viewer.device) {
      deps.runtime.announceTakeover?.(id, viewer.device).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not tell the other replicas of the takeover'));
    }
    return leave;
  }

  const onRemoteTakeover = (t: RemoteTakeover) => deps.viewers.takenOverElsewhere(t.session, t.device, t.at, endOpenedElsewhere(deps.logger.child({ session: t.session })));
  deps.runtime.on('takeover', onRemoteTakeover);
  app.addHook('onClose', async () => {
    deps.runtime.off('takeover', onRemoteTakeover);
  });

  const schema = (summary: string) => ({
    summary,
    tags: ['streams'],
    params: StreamParams,
    querystring: StreamQuery,
    response: {
      101: z.null().describe('Switching Protocols: the WebSocket is open'),
      400: ErrorBody,
      401: ErrorBody,
      404: ErrorBody,
      409: ErrorBody,
      426: ErrorBody.describe('Not a WebSocket upgrade request, or not version 13; the token was not used'),
      ...paramErrors,
      ...apiErrors,
    },
  });

  r.get(
    `${routes.sessions}/:id/vnc`,
    { websocket: true, onRequest: requireUpgrade, preValidation: checkConnectToken, schema: schema('WebSocket: the RFB stream (security type None; the agent authenticates to the desktop)') },
    (socket, req) => {
      const id = req.params.id;
      deps.clients.opened(id, req.streamViewer?.device);
      deps.metrics.openStreams.inc({ protocol: 'vnc' });
      const log = req.log.child({ session: id });
      log.info('vnc stream opened');
      const leave = watchViewer(id, req.streamViewer, (code, reason) => socket.close(code, reason), log);
      const endpoint = deps.runtime.streamEndpoint(id, 'vnc');
      endpoint.catch(() => undefined); // reported by the gateway as a close reason
      void runVncGateway(socket, endpoint, {
        logger: log,
        onBytes: (direction, n) => deps.metrics.gatewayBytes.inc({ direction }, n),
      }).finally(() => {
        leave();
        deps.clients.closed(id, req.streamViewer?.device);
        deps.metrics.openStreams.dec({ protocol: 'vnc' });
        log.info('vnc stream closed');
      });
    },
  );

  r.get(
    `${routes.sessions}/:id/webrtc`,
    { websocket: true, onRequest: requireUpgrade, preValidation: checkConnectToken, schema: schema("WebSocket: WebRTC signalling relayed to the session's streamer (DESIGN.md); media flows between client and streamer") },
    (socket, req) => {
      const id = req.params.id;
      const user = req.streamUser ?? '';
      deps.clients.opened(id, req.streamViewer?.device);
      deps.metrics.openStreams.inc({ protocol: 'webrtc' });
      const log = req.log.child({ session: id });
      log.info('webrtc signalling opened');
      const leave = watchViewer(
        id,
        req.streamViewer,
        (code, reason) => {
          // The page learns why in the contract's error frame before the close.
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', code: 'opened_elsewhere', message: reason }));
          socket.close(code, reason);
        },
        log,
      );
      const endpoint = deps.runtime.streamEndpoint(id, 'webrtc');
      endpoint.catch(() => undefined); // reported by the relay as an error frame and close
      void runWebRtcRelay(socket, endpoint, { iceServers: iceServersFor(deps.ice, user, id, Date.now()), viewer: user, logger: log }).finally(() => {
        leave();
        deps.clients.closed(id, req.streamViewer?.device);
        deps.metrics.openStreams.dec({ protocol: 'webrtc' });
        log.info('webrtc signalling closed');
      });
    },
  );
}
