/**
 * What the gateway tells the runtime as streams open and close: the count, and the devices that still
 * have a stream open (two streams of one device count once, and the device stays until both close).
 */
import { describe, expect, it } from 'vitest';
import { ConnectedClients } from '../../cluster-agent/agent/connected-clients.js';
import type { Runtime } from '../../cluster-agent/runtime/types.js';

function recording() {
  const said: Array<[string, number, readonly string[] | undefined]> = [];
  const runtime = { setConnectedClients: async (id: string, n: number, devices?: readonly string[]) => void said.push([id, n, devices]) } as unknown as Runtime;
  return { clients: new ConnectedClients(runtime), said };
}

describe('connected clients', () => {
  it('reports each change in order with the devices still watching', async () => {
    const { clients, said } = recording();
    clients.opened('s1', 'kiosk-1');
    clients.opened('s1', 'kiosk-1'); // its WebRTC and VNC streams at once
    clients.opened('s1'); // a tool with no device
    clients.opened('s1', 'laptop');
    clients.closed('s1', 'kiosk-1');
    clients.closed('s1', 'laptop');
    clients.closed('s1', 'kiosk-1');
    await clients.settled();
    expect(said).toEqual([
      ['s1', 1, ['kiosk-1']],
      ['s1', 2, ['kiosk-1']],
      ['s1', 3, ['kiosk-1']],
      ['s1', 4, ['kiosk-1', 'laptop']],
      ['s1', 3, ['kiosk-1', 'laptop']],
      ['s1', 2, ['kiosk-1']],
      ['s1', 1, []],
    ]);
    expect(clients.count('s1')).toBe(1);
  });
});
