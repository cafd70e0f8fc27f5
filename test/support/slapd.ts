/**
 * A real OpenLDAP `slapd` (Debian's) for the tests, on loopback: its own config, an mdb database loaded
 * with slapadd, a CA and server certificate made with openssl so StartTLS and ldaps:// can be checked
 * against a CA file. Stopped by PID.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir, waitFor } from './processes.js';

export const BASE_DN = 'dc=example,dc=org';

export interface Slapd {
  url: string;
  ldapsUrl: string;
  caFile: string;
  dir: string;
  child: ChildProcess;
  stop: () => Promise<void>;
  /** kills it without a clean shutdown; `start` brings the same directory back */
  kill: () => Promise<void>;
  start: () => Promise<void>;
}

export interface LdapPerson {
  uid: string;
  password: string;
  /** groupOfNames these list the person as member of */
  groups?: string[];
  /** posixGroup these list the person's uid in (memberUid) */
  posixGroups?: string[];
  employeeType?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function ldif(people: LdapPerson[], readerPassword: string): string {
  const groups = new Map<string, string[]>();
  const posix = new Map<string, string[]>();
  for (const p of people) {
    for (const g of p.groups ?? []) groups.set(g, [...(groups.get(g) ?? []), `uid=${p.uid},ou=people,${BASE_DN}`]);
    for (const g of p.posixGroups ?? []) posix.set(g, [...(posix.get(g) ?? []), p.uid]);
  }
  const entries = [
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example`,
    `dn: ou=people,${BASE_DN}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${BASE_DN}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: cn=reader,${BASE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: ${readerPassword}`,
    ...people.map((p) => `dn: uid=${p.uid},ou=people,${BASE_DN}\nobjectClass: inetOrgPerson\nuid: ${p.uid}\ncn: ${p.uid}\nsn: ${p.uid}\nuserPassword: ${p.password}${p.employeeType ? `\nemployeeType: ${p.employeeType}` : ''}`),
    ...[...groups].map(([g, members]) => `dn: cn=${g},ou=groups,${BASE_DN}\nobjectClass: groupOfNames\ncn: ${g}\n${members.map((m) => `member: ${m}`).join('\n')}`),
    ...[...posix].map(([g, uids], i) => `dn: cn=${g},ou=groups,${BASE_DN}\nobjectClass: posixGroup\ncn: ${g}\ngidNumber: ${5000 + i}\n${uids.map((u) => `memberUid: ${u}`).join('\n')}`),
  ];
  return entries.join('\n\n') + '\n';
}

/** A CA and a server certificate for 127.0.0.1, signed by it. */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Porthole test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

export async function startSlapd(people: LdapPerson[], readerPassword = 'reader-pw'): Promise<Slapd> {
  const d = tempDir('slapd');
  const db = join(d.path, 'db');
  mkdirSync(db);
  const certs = makeCerts(d.path);
  const [port, ldapsPort] = [await freePort(), await freePort()];
  const conf = join(d.path, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${join(d.path, 'slapd.pid')}`,
      `TLSCACertificateFile ${certs.ca}`,
      `TLSCertificateFile ${certs.cert}`,
      `TLSCertificateKeyFile ${certs.key}`,
      'database mdb',
      'maxsize 16777216',
      `suffix "${BASE_DN}"`,
      `rootdn "cn=admin,${BASE_DN}"`,
      'rootpw admin-pw',
      `directory ${db}`,
      // Passwords: only for binding. Everything else: readable once bound, by anyone bound.
      'access to attrs=userPassword by anonymous auth by self read by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  writeFileSync(join(d.path, 'data.ldif'), ldif(people, readerPassword));
  execFileSync('slapadd', ['-f', conf, '-l', join(d.path, 'data.ldif')], { stdio: 'pipe' });
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  let child!: ChildProcess;
  const start = async () => {
    child = spawn('slapd', ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await waitFor(`slapd on ${url}`, () => new Promise<boolean | undefined>((ok) => {
      if (child.exitCode !== null) throw new Error(`slapd exited ${child.exitCode}: ${err}`);
      const c = createConnection({ host: '127.0.0.1', port }, () => (c.end(), ok(true)));
      c.on('error', () => ok(undefined));
    }), 15_000, 100);
  };
  const kill = async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGKILL');
    await gone;
  };
  await start();
  const handle: Slapd = {
    url,
    ldapsUrl,
    caFile: certs.ca,
    dir: d.path,
    get child() {
      return child;
    },
    start,
    kill,
    stop: async () => {
      await kill();
      d.remove();
    },
  };
  return handle;
}
