/**
 * One session start as a person sees it, timed: POST /sessions -> Running (polled every 20 ms) -> the
 * first framebuffer update through the agent's gateway -> optionally the desktop drawn (more than
 * `drawnColours` colours, not Xvnc's empty screen). Shared by the start benchmarks.
 */
import { ConnectResponse, routes, Session } from '../cluster-agent/contract/index.js';
import { distinctColours, RfbClient } from '../test/support/rfb-client.js';
import { round } from './stats.js';

export async function api<T>(agentUrl: string, token: string, path: string, parse: (v: unknown) => T, init: RequestInit = {}): Promise<T> {
  const res = await fetch(new URL(path, agentUrl), {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return parse(await res.json());
}

export interface StartTiming {
  id: string;
  running_ms: number;
  first_frame_ms: number;
  /** when the desktop had drawn (only with drawnColours) */
  drawn_ms?: number;
  colours: number;
}

export async function timeStart(agentUrl: string, token: string, template: string, opts: { drawnColours?: number; drawnTimeoutMs?: number } = {}): Promise<StartTiming> {
  const t0 = performance.now();
  let session = await api(agentUrl, token, routes.sessions, (v) => Session.parse(v), { method: 'POST', body: JSON.stringify({ template }) });
  while (session.phase !== 'Running') {
    if (session.phase === 'Failed') throw new Error(`session failed: ${session.message}`);
    await new Promise((r) => setTimeout(r, 20));
    session = await api(agentUrl, token, routes.session(session.id), (v) => Session.parse(v));
  }
  const tRunning = performance.now();
  const connect = await api(agentUrl, token, routes.connect(session.id), (v) => ConnectResponse.parse(v), { method: 'POST', body: '{}' });
  const rfb = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
  try {
    rfb.requestUpdate(false);
    let colours = distinctColours(await rfb.nextUpdate(true));
    const tFrame = performance.now();
    let tDrawn: number | undefined;
    if (opts.drawnColours !== undefined) {
      const deadline = tFrame + (opts.drawnTimeoutMs ?? 60_000);
      while (colours <= opts.drawnColours) {
        if (performance.now() > deadline) throw new Error(`the desktop of ${session.id} showed ${colours} colours after ${opts.drawnTimeoutMs ?? 60_000} ms`);
        rfb.requestUpdate(false);
        colours = distinctColours(await rfb.nextUpdate(true));
      }
      tDrawn = performance.now();
    }
    return { id: session.id, running_ms: round(tRunning - t0), first_frame_ms: round(tFrame - t0), ...(tDrawn !== undefined ? { drawn_ms: round(tDrawn - t0) } : {}), colours };
  } finally {
    rfb.close();
  }
}

/** min / p50 / max of one figure over runs */
export function spread(values: number[], percentile: (v: number[], p: number) => number): { min: number; p50: number; max: number } {
  return { min: Math.min(...values), p50: percentile(values, 50), max: Math.max(...values) };
}
