/**
 * The agent's connect URL is meant to be a ws(s):// URL already; accept http(s) or a path too,
 * so a core that passes the agent's answer through unchanged still works.
 */
export function toWebSocketUrl(url: string, base?: string): string {
  const resolved = new URL(url, base);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  if (resolved.protocol !== 'ws:' && resolved.protocol !== 'wss:') {
    throw new Error(`The desktop stream address "${resolved.protocol}" is not a WebSocket address.`);
  }
  return resolved.toString();
}
