/** Profile, templates and the caller's own sessions. Other users' sessions are indistinguishable from missing ones. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  ConnectRequest,
  ConnectResponse,
  OPENED_ELSEWHERE_MESSAGE,
  CreateSessionRequest,
  ErrorBody,
  Me,
  Preferences,
  Session,
  SessionIdParams,
  SessionList,
  TemplateList,
  routes,
} from '../../contract/index.js';
import { badRequest, conflict, forbidden, notFound, notReady } from '../api-error.js';
import { makeAuthenticate, principalOf } from '../authenticate.js';
import type { AgentDeps } from '../deps.js';
import { mayUseTemplate, NEEDS_ENROLLED_DEVICE, templatesFor } from '../entitlement.js';
import { mayConnect } from '../viewers.js';
import { iceServersFor } from '../ice-servers.js';
import { requestBase, streamUrls } from '../stream-urls.js';
import { apiErrors, bodyErrors, paramErrors } from './responses.js';

function hostProblem(host: string | undefined): string {
  const fix = 'so the stream URLs cannot be built from it; send the address you reached the agent at as Host, or start the agent with --public-url URL';
  if (host === undefined) return `The request has no Host header, ${fix}`;
  const shown = JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host);
  return `The request's Host header ${shown} is not a valid host[:port], ${fix}`;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, ...apiErrors };
const withParam = { ...errors, ...paramErrors };
const security = [{ bearer: [] }];
const tags = ['sessions'];

export async function sessionRoutes(app: FastifyInstance, deps: AgentDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const authenticate = makeAuthenticate(deps);
  // Runs before body validation: an unauthenticated caller learns nothing about the schema.
  r.addHook('onRequest', async (req) => {
    await authenticate(req);
    if (!deps.isReady()) throw notReady('The agent is still starting its runtime; try again in a few seconds');
  });

  const ownSession = async (user: string, id: string): Promise<Session> => {
    const s = await deps.runtime.get(id);
    // Same answer for "missing" and "someone else's": ids of other users' sessions are not revealed.
    if (!s || s.user !== user) throw notFound(`You have no session "${id}"`);
    return s;
  };

  r.get(routes.me, { schema: { summary: 'The signed-in user, their templates and preferences', tags, security, response: { 200: Me, ...errors } } }, async (req) => {
    const user = principalOf(req);
    return { user: { name: user.name, groups: user.groups }, templates: templatesFor(user, await deps.runtime.templates()), preferences: Preferences.parse({}) };
  });

  r.get(routes.templates, { schema: { summary: 'Templates the user may start', tags, security, response: { 200: TemplateList, ...errors } } }, async (req) => ({
    templates: templatesFor(principalOf(req), await deps.runtime.templates()),
  }));

  r.get(routes.sessions, { schema: { summary: "The caller's own sessions", tags, security, response: { 200: SessionList, ...errors } } }, async (req) => {
    const user = principalOf(req);
    return { sessions: (await deps.runtime.list()).filter((s) => s.user === user.name) };
  });

  r.get(
    `${routes.sessions}/:id`,
    { schema: { summary: 'One of the caller\'s sessions', tags, security, params: SessionIdParams, response: { 200: Session, ...withParam } } },
    async (req) => ownSession(principalOf(req).name, req.params.id),
  );

  r.post(
    routes.sessions,
    {
      schema: {
        summary: "Start-or-get: the caller's live session of the template (200), else a new one (202)",
        tags,
        security,
        body: CreateSessionRequest,
        response: { 200: Session, 202: Session, ...errors, ...bodyErrors },
      },
    },
    async (req, reply) => {
      const user = principalOf(req);
      const name = req.body.template;
      const template = (await deps.runtime.templates()).find((t) => t.name === name);
      if (!template) throw notFound(`There is no template "${name}"; GET ${routes.templates} lists the ones you can start`);
      if (!mayUseTemplate(user, template)) throw forbidden(`You are not allowed to start "${name}"; ask an administrator to grant you access`);
      if (!template.available) throw conflict(template.unavailableReason ?? `Template "${name}" cannot start on this agent right now`);
      if (template.requireEnrolledDevice && !user.device) throw forbidden(NEEDS_ENROLLED_DEVICE);
      const { session, created } = await deps.runtime.startOrGet(user.name, name);
      return reply.code(created ? 202 : 200).send(session);
    },
  );

  r.delete(
    `${routes.sessions}/:id`,
    { schema: { summary: 'End the session (the home directory is kept)', tags, security, params: SessionIdParams, response: { 202: Session, ...withParam, ...bodyErrors } } },
    async (req, reply) => {
      const user = principalOf(req).name;
      const s = await ownSession(user, req.params.id);
      await deps.runtime.stop(s.id, `Stopped by ${user}`, { createdAt: s.createdAt, ...(s.startedAt ? { startedAt: s.startedAt } : {}) });
      return reply.code(202).send((await deps.runtime.get(s.id)) ?? s);
    },
  );

  r.post(
    `${routes.sessions}/:id/connect`,
    {
      schema: {
        summary: 'A one-minute, single-use token and the stream URLs that carry it',
        tags,
        security,
        params: SessionIdParams,
        body: ConnectRequest.nullish(),
        response: { 200: ConnectResponse, ...withParam, ...bodyErrors },
      },
    },
    async (req) => {
      const principal = principalOf(req);
      const user = principal.name;
      const s = await ownSession(user, req.params.id);
      if (s.phase !== 'Running') {
        const hint = s.phase === 'Failed' && s.message ? `: ${s.message}` : '';
        throw conflict(`Session "${s.id}" is not running yet (phase ${s.phase})${hint}`);
      }
      if (!principal.device && (await deps.runtime.templates()).find((t) => t.name === s.template)?.requireEnrolledDevice) throw forbidden(NEEDS_ENROLLED_DEVICE);
      const viewer = { device: req.body?.device, takeOver: req.body?.takeOver === true };
      const elsewhere = (deps.runtime.devicesViewingElsewhere?.(s.id) ?? []).map((device) => ({ device }));
      if (!mayConnect([...deps.viewers.open(s.id), ...elsewhere], viewer.device, viewer.takeOver)) {
        throw conflict(`${OPENED_ELSEWHERE_MESSAGE} Ask again with takeOver to open it here.`, 'opened_elsewhere');
      }
      // With --public-url the Host header does not matter; without it, a Host that is not a plain
      // host[:port] (or none, from HTTP/1.0) cannot be the base of a URL a viewer will open.
      const base = deps.publicUrl ?? requestBase(req.protocol, req.headers.host);
      if (base === undefined) throw badRequest(hostProblem(req.headers.host));
      const { token, expiresAt } = await deps.tokens.issueConnectToken(user, s.id, viewer);
      const urls = streamUrls(base, s.id, token);
      return { token, expiresAt: expiresAt.toISOString(), vnc: { url: urls.vnc }, webrtc: { url: urls.webrtc, iceServers: iceServersFor(deps.ice, user, s.id, Date.now()) } };
    },
  );
}
