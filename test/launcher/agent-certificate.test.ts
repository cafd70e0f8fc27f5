/**
 * The https agent's certificate fingerprint the offline profile keeps: read from a real TLS server
 * (a certificate openssl makes here for 127.0.0.1), with the same trust as the core's requests, so an
 * untrusted server gives none; http agents have none; a changed certificate is worded.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCertificateFingerprint, certificateChange } from '../../main/core/agent-certificate.js';
import { tempDir } from '../support/processes.js';

const dir = tempDir('agent-cert');
let server: Server;
let url: string;
let cert: string;

beforeAll(async () => {
  const key = join(dir.path, 'key.pem');
  const crt = join(dir.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  cert = readFileSync(crt, 'utf8');
  server = createServer({ key: readFileSync(key), cert }, (_req, res) => res.end('ok'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => server?.close(() => ok()));
  dir.remove();
});

describe("the agent's certificate fingerprint", () => {
  it('is the SHA-256 of the certificate a trusted https agent presents', async () => {
    expect(await agentCertificateFingerprint(url, { ca: cert })).toBe(new X509Certificate(cert).fingerprint256);
  });

  it('is none for a server this device does not trust, for http, and for nobody listening', async () => {
    expect(await agentCertificateFingerprint(url)).toBeUndefined();
    expect(await agentCertificateFingerprint('http://127.0.0.1:1')).toBeUndefined();
    expect(await agentCertificateFingerprint('https://127.0.0.1:1', { ca: cert })).toBeUndefined();
  });

  it('says when it changed, and nothing when it did not or was never seen', () => {
    const a = new X509Certificate(cert).fingerprint256;
    const b = a.replace(/^../, a.startsWith('00') ? '11' : '00');
    expect(certificateChange(a, b)).toMatch(/^the agent's TLS certificate changed since this device last saw it \(SHA-256 .{23}… then, .{23}… now\)$/);
    expect(certificateChange(a, a)).toBeUndefined();
    expect(certificateChange(undefined, a)).toBeUndefined();
  });
});
