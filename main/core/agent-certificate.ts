/**
 * The SHA-256 fingerprint of an https agent's TLS certificate, for the offline profile: a device that
 * saw one certificate and later meets another learns it (and logs it) instead of trusting silently.
 * Same trust as the core's fetch (Node's CAs plus NODE_EXTRA_CA_CERTS); http agents have none.
 */
import { connect } from 'node:tls';
import { isIP } from 'node:net';

export async function agentCertificateFingerprint(agentUrl: string, opts: { ca?: string | Buffer; timeoutMs?: number } = {}): Promise<string | undefined> {
  const url = new URL(agentUrl);
  if (url.protocol !== 'https:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return new Promise((ok) => {
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, ca: opts.ca, ALPNProtocols: ['http/1.1'] }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      ok(fingerprint || undefined);
    });
    socket.setTimeout(opts.timeoutMs ?? 5_000, () => {
      socket.destroy();
      ok(undefined);
    });
    // Untrusted, wrong name, refused: no fingerprint to keep (the agent calls say why on their own).
    socket.once('error', () => ok(undefined));
  });
}

/** Pure: what to say when the agent's certificate is not the one this device saw before. */
export function certificateChange(saved: string | undefined, now: string | undefined): string | undefined {
  if (!saved || !now || saved === now) return undefined;
  return `the agent's TLS certificate changed since this device last saw it (SHA-256 ${saved.slice(0, 23)}… then, ${now.slice(0, 23)}… now)`;
}
