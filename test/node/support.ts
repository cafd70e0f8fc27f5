/**
 * What the real-node tests share: calls to an agent (reached through a relay into the node's network
 * namespace), a session started and waited for until Running on the node, its desktop container as the
 * pod status names it, XFCE's pixels through the agent's gateway, and a Service's endpoint as a proxy
 * would pick it (no kube-proxy runs here).
 */
import { DiscoveryV1Api, type CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'vitest';
import { ConnectResponse, routes, Session } from '../../cluster-agent/contract/index.js';
import { waitFor } from '../support/processes.js';
import { distinctColours, RfbClient } from '../support/rfb-client.js';

export interface AgentCalls {
  call(token: string, path: string, init?: RequestInit): Promise<Response>;
  /** starts a session of `template` and waits until it is Running (a Failed session's reason is the error) */
  startRunning(token: string, template?: string): Promise<Session>;
  /** the session's connect response (its gateway URLs) */
  connect(token: string, id: string): Promise<ConnectResponse>;
}

export function agentCalls(agentUrl: () => string): AgentCalls {
  const call = (token: string, path: string, init: RequestInit = {}) =>
    fetch(new URL(path, agentUrl()), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  return {
    call,
    async startRunning(token, template = 'xfce') {
      const started = await call(token, routes.sessions, { method: 'POST', body: JSON.stringify({ template }) });
      expect(started.status).toBe(202);
      const { id } = Session.parse(await started.json());
      let last: Session | undefined;
      return waitFor('the session Running on the real node', async () => {
        const s = (last = Session.parse(await (await call(token, routes.session(id))).json()));
        if (s.phase === 'Failed') throw new Error(`session failed: ${s.reason}: ${s.message}`);
        return s.phase === 'Running' ? s : undefined;
      }, 120_000, 250).catch((e: Error) => {
        throw new Error(`${e.message} (last seen: ${last?.phase}: ${last?.message})`);
      });
    },
    async connect(token, id) {
      return ConnectResponse.parse(await (await call(token, routes.connect(id), { method: 'POST' })).json());
    },
  };
}

/** The session pod's address, node and desktop container (containerd://ID) from its status. */
export async function desktopContainer(core: CoreV1Api, namespace: string, sessionId: string): Promise<{ podIP: string; nodeName: string; containerId: string }> {
  const pod = await core.readNamespacedPod({ name: sessionId, namespace });
  const status = pod.status?.containerStatuses?.find((c) => c.name === 'desktop');
  return { podIP: pod.status?.podIP ?? '', nodeName: pod.spec?.nodeName ?? '', containerId: status?.containerID ?? '' };
}

/** Opens the gateway's VNC URL and waits until XFCE has drawn (many colours, not Xvnc's black screen). */
export async function seeXfce(vncUrl: string): Promise<{ width: number; height: number }> {
  const rfb = await RfbClient.connect({ kind: 'ws', url: vncUrl });
  try {
    await waitFor('XFCE drawn', async () => {
      rfb.requestUpdate(false);
      return distinctColours(await rfb.nextUpdate(true)) > 16 ? true : undefined;
    }, 60_000, 500);
    return { width: rfb.init.width, height: rfb.init.height };
  } finally {
    rfb.close();
  }
}

/** The Service's ready endpoint, as kube-proxy would pick it: from the EndpointSlice the control plane keeps. */
export async function serviceEndpoint(kc: KubeConfig, namespace: string, service: string, portName: string): Promise<{ address: string; port: number; pod: string }> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  return waitFor(`a ready endpoint of Service ${service}`, async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
    for (const slice of slices.items) {
      const port = slice.ports?.find((p) => p.name === portName)?.port;
      const ready = slice.endpoints.find((e) => e.conditions?.ready);
      if (port && ready?.addresses[0] && ready.targetRef?.name) return { address: ready.addresses[0], port, pod: ready.targetRef.name };
    }
    return undefined;
  }, 60_000, 500);
}
