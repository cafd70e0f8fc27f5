/**
 * Writes an OCI image archive (the image-layout spec, as a tar) from layer tars, with no container engine
 * and no registry: `ctr images import` and `podman load` both read it. Layers are stored uncompressed
 * (media type ...layer.v1.tar), so the digest of a layer is also its diff_id and nothing is compressed
 * only to be uncompressed again on the same machine.
 * Usage: node build/images/oci-archive.mjs --out FILE --ref NAME:TAG --layer A.tar [--layer B.tar ...]
 *        [--user UID:GID] [--workdir DIR] [--env K=V ...] [--entrypoint JSON] [--cmd JSON] [--label K=V ...]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' }, ref: { type: 'string' }, layer: { type: 'string', multiple: true },
    user: { type: 'string' }, workdir: { type: 'string' }, env: { type: 'string', multiple: true },
    entrypoint: { type: 'string' }, cmd: { type: 'string' }, label: { type: 'string', multiple: true },
  },
});
if (!a.out || !a.ref || !a.layer?.length) throw new Error('oci-archive: --out, --ref and at least one --layer are needed');

const sha256File = (path) => new Promise((done, fail) => {
  const h = createHash('sha256');
  createReadStream(path).on('data', (d) => h.update(d)).on('end', () => done(h.digest('hex'))).on('error', fail);
});
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

const out = resolve(a.out);
const dir = mkdtempSync(join(dirname(out), '.oci-'));
const blobs = join(dir, 'blobs', 'sha256');
mkdirSync(blobs, { recursive: true });
const putJson = (value) => {
  const buf = Buffer.from(JSON.stringify(value));
  const digest = sha256(buf);
  writeFileSync(join(blobs, digest), buf);
  return { digest: `sha256:${digest}`, size: buf.length };
};

const layers = [];
for (const path of a.layer) {
  const digest = await sha256File(path);
  // a hard link, not a copy: layers are hundreds of MB (falls back to a copy across file systems)
  try { linkSync(path, join(blobs, digest)); } catch { execFileSync('cp', [path, join(blobs, digest)]); }
  layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${digest}`, size: statSync(path).size });
}
const pairs = (list) => Object.fromEntries((list ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const config = putJson({
  architecture: 'amd64',
  os: 'linux',
  config: {
    ...(a.user ? { User: a.user } : {}),
    ...(a.workdir ? { WorkingDir: a.workdir } : {}),
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(a.env ?? [])],
    ...(a.entrypoint ? { Entrypoint: JSON.parse(a.entrypoint) } : {}),
    ...(a.cmd ? { Cmd: JSON.parse(a.cmd) } : {}),
    Labels: pairs(a.label),
  },
  rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  history: layers.map(() => ({ created_by: 'porthole build/images' })),
});
const manifest = putJson({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers,
});
writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(join(dir, 'index.json'), JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [{
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...manifest,
    // containerd names the image by the first; the OCI spec's own key carries the same full reference
    annotations: { 'io.containerd.image.name': a.ref, 'org.opencontainers.image.ref.name': a.ref },
  }],
}));
execFileSync('tar', ['-C', dir, '-cf', `${out}.tmp`, 'oci-layout', 'index.json', 'blobs']);
renameSync(`${out}.tmp`, out);
rmSync(dir, { recursive: true, force: true });
console.log(out);
