/**
 * The stream WebSockets. The connect token is checked in a preValidation hook, i.e. BEFORE the
 * upgrade: a bad token gets a plain HTTP 401/404/409 JSON answer and no WebSocket is ever opened.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CONNECT_TOKEN_PARAM, ErrorBody, SessionId, routes } from '../../contract/index.js';
import { TokenError } from '../access-tokens.js';
import { conflict, notFound, unauthorized } from '../api-error.js';
import type { AgentDeps } from '../deps.js';
import { runVncGateway } from '../gateway/vnc-gateway.js';

export const WEBRTC_UNAVAILABLE_CODE = 4501;
export const WEBRTC_UNAVAILABLE_REASON = 'WebRTC streaming is not available for this session yet; use VNC';

const StreamQuery = z.object({ [CONNECT_TOKEN_PARAM]: z.string().max(4096).optional() });
const StreamParams = z.object({ id: SessionId });

export async function streamRoutes(app: FastifyInstance, deps: AgentDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  async function checkConnectToken(req: FastifyRequest): Promise<void> {
    const id = StreamParams.safeParse(req.params);
    if (!id.success) throw notFound('There is no such session');
    const token = (req.query as Record<string, unknown>)[CONNECT_TOKEN_PARAM];
    if (typeof token !== 'string' || token === '') {
      throw unauthorized(`Add the connect token from POST ${routes.connect(id.data.id)} as ?${CONNECT_TOKEN_PARAM}=`);
    }
    try {
      const claims = await deps.tokens.consumeConnectToken(token, id.data.id);
      const s = await deps.runtime.get(claims.session);
      if (!s || s.user !== claims.user) throw notFound(`You have no session "${id.data.id}"`);
      if (s.phase !== 'Running') throw conflict(`Session "${s.id}" is not running (phase ${s.phase})`);
    } catch (err) {
      if (err instanceof TokenError) throw unauthorized(err.message);
      throw err;
    }
  }

  const schema = (summary: string) => ({
    summary,
    tags: ['streams'],
    params: StreamParams,
    querystring: StreamQuery,
    response: { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
  });

  r.get(
    `${routes.sessions}/:id/vnc`,
    { websocket: true, preValidation: checkConnectToken, schema: schema('WebSocket: the RFB stream (security type None; the agent authenticates to the desktop)') },
    (socket, req) => {
      const id = req.params.id;
      deps.clients.opened(id);
      deps.metrics.openStreams.inc({ protocol: 'vnc' });
      const log = req.log.child({ session: id });
      log.info('vnc stream opened');
      const endpoint = deps.runtime.vncEndpoint(id);
      endpoint.catch(() => undefined); // reported by the gateway as a close reason
      void runVncGateway(socket, endpoint, {
        logger: log,
        onBytes: (direction, n) => deps.metrics.gatewayBytes.inc({ direction }, n),
      }).finally(() => {
        deps.clients.closed(id);
        deps.metrics.openStreams.dec({ protocol: 'vnc' });
        log.info('vnc stream closed');
      });
    },
  );

  r.get(
    `${routes.sessions}/:id/webrtc`,
    { websocket: true, preValidation: checkConnectToken, schema: schema('WebSocket: WebRTC signalling (not available yet: closes with 4501)') },
    (socket) => {
      socket.close(WEBRTC_UNAVAILABLE_CODE, WEBRTC_UNAVAILABLE_REASON);
    },
  );
}
