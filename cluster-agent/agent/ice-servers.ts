/**
 * The ICE servers a viewer and its session's streamer use: STUN as configured, and TURN with
 * short-lived credentials of the REST-API scheme coturn understands (use-auth-secret): the user name
 * is `<expiry unix time>:<session>.<user>`, the password base64(HMAC-SHA1(shared secret, user name)).
 * The shared secret stays with the agent and the TURN server; a leaked credential dies with its expiry.
 */
import { createHmac } from 'node:crypto';
import type { IceServerConfig } from '../contract/webrtc.js';

export interface IceConfig {
  stun: string[];
  turn?: { urls: string[]; secret: string; ttlSeconds: number };
}

export const DEFAULT_TURN_TTL_SECONDS = 3600;

/** Pure: coturn's REST-API password for a user name. */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** Pure: the ICE servers for one viewer of one session, valid from `nowMs` for the TURN ttl. */
export function iceServersFor(config: IceConfig, user: string, sessionId: string, nowMs: number): IceServerConfig[] {
  const servers: IceServerConfig[] = config.stun.length ? [{ urls: config.stun }] : [];
  if (config.turn && config.turn.urls.length) {
    const expiry = Math.floor(nowMs / 1000) + config.turn.ttlSeconds;
    const username = `${expiry}:${sessionId}.${user}`;
    servers.push({ urls: config.turn.urls, username, credential: turnPassword(config.turn.secret, username) });
  }
  return servers;
}
