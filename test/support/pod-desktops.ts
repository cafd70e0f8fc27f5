/**
 * TEST-ONLY STAND-IN FOR THE CONTAINER RUNTIME of session pods. This is the one mock-like piece of the
 * cluster tests, and it exists because no container runtime can run on this machine: KWOK nodes run no
 * containers, they only mark pods Running and give them a pod IP (127.X.Y.Z, see docs/cluster.md).
 *
 * What it does: it watches the session pods (label app.kubernetes.io/component=session) of one
 * namespace, and for each one that has a pod IP it starts what the pod's container would run, on this
 * machine: a real TigerVNC `Xvnc` listening only on that pod IP, port 5901, with VncAuth and the
 * password file from the pod's own VNC Secret (key `passwd`), plus a tiny X client (`xsetroot`) that
 * paints a two-colour pattern so there are pixels to see. When the pod goes away (deleted, Succeeded,
 * Failed, or loses its IP) the Xvnc is stopped. 127.0.0.0/8 is all loopback on Linux, so binding a pod IP
 * needs no set-up and the test traffic never leaves the machine.
 *
 * What is real on the other side: everything that talks to a session pod does it as against a real
 * cluster. The agent reads the pod IP from the API server, dials podIP:5901, and authenticates with
 * VncAuth using the password in the Secret it created; none of that knows this module exists. What is
 * NOT exercised: the desktop image itself (DESKTOP_SCRIPT, XFCE), the kubelet's volume mounts and
 * probes, and NetworkPolicy enforcement (no CNI plugin runs here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { GROUP, LABELS, TEMPLATE_PLURAL, VERSION, VNC_PORT } from '../../cluster-agent/kubernetes/resources.js';
import { podSecretName, SECRET_PASSWD_FILE_KEY } from '../../cluster-agent/kubernetes/session-objects.js';
import { createNamespace, ensureCrds } from './kube.js';

/** The pattern every stand-in desktop shows (xsetroot -mod): tests can look for these exact colours. */
export const DESKTOP_COLOURS = { foreground: 0x3366cc, background: 0xffcc00 } as const;
const hex = (c: number) => `#${c.toString(16).padStart(6, '0')}`;

export interface PodDesktop {
  pod: string;
  uid: string;
  /** the pod IP Xvnc listens on, and only there */
  ip: string;
  port: number;
  display: number;
  pid: number;
}

interface Running {
  desktop: PodDesktop;
  xvnc: ChildProcess;
  dir: string;
}

const isLoopback = (ip: string) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
const wanted = (pod: V1Pod): string | undefined => {
  const ip = pod.status?.podIP;
  if (!ip || pod.metadata?.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  return ip;
};

export class PodDesktops {
  private readonly running = new Map<string, Running>();
  /** per pod uid: the reconcile in flight, so events for one pod apply in order */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly latest = new Map<string, V1Pod>();
  private readonly waiters: { pod: string; resolve: (d: PodDesktop) => void }[] = [];
  private readonly core: CoreV1Api;
  private informer?: Informer<V1Pod>;
  private stopped = false;
  /** what happened, for a failing test's message */
  readonly log: string[] = [];

  private constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Starts watching the namespace's session pods; resolves once the first list is done. */
  static async start(kc: KubeConfig, namespace: string): Promise<PodDesktops> {
    const d = new PodDesktops(kc, namespace);
    await d.watch();
    return d;
  }

  get(pod: string): PodDesktop | undefined {
    return [...this.running.values()].find((r) => r.desktop.pod === pod)?.desktop;
  }

  /** Resolves once the named pod's stand-in desktop listens on its pod IP. */
  waitFor(pod: string, timeoutMs = 60_000): Promise<PodDesktop> {
    const now = this.get(pod);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stand-in desktop for pod ${pod} after ${timeoutMs} ms:\n${this.log.join('\n')}`)), timeoutMs);
      this.waiters.push({ pod, resolve: (d) => (clearTimeout(timer), resolve(d)) });
    });
  }

  /** Stops watching and stops every Xvnc this instance started (by its PID). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
    await Promise.all([...this.chains.values()]);
    await Promise.all([...this.running.keys()].map((uid) => this.stopDesktop(uid)));
  }

  private async watch(): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/pods`;
    const selector = `${LABELS.component}=session`;
    const informer = makeInformer<V1Pod>(this.kc, path, () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }), selector);
    informer.on('add', (p) => this.changed(p));
    informer.on('update', (p) => this.changed(p));
    informer.on('delete', (p) => this.changed({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date() } }));
    informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.log.push(`watch error, restarting: ${String(err)}`);
      setTimeout(() => void (this.stopped ? undefined : informer.start().catch(() => undefined)), 1000);
    });
    this.informer = informer;
    await informer.start();
  }

  private changed(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    this.latest.set(uid, pod);
    const next = (this.chains.get(uid) ?? Promise.resolve()).then(() => this.reconcile(uid)).catch((e: unknown) => void this.log.push(`${pod.metadata?.name}: ${String(e)}`));
    this.chains.set(uid, next);
  }

  private async reconcile(uid: string): Promise<void> {
    const pod = this.latest.get(uid);
    if (!pod || this.stopped) return;
    const ip = wanted(pod);
    const have = this.running.get(uid);
    if (have && have.desktop.ip === ip && have.xvnc.exitCode === null) return;
    if (have) await this.stopDesktop(uid);
    if (!ip) return;
    if (!isLoopback(ip)) {
      this.log.push(`${pod.metadata?.name}: pod IP ${ip} is not in 127.0.0.0/8; not starting a desktop there`);
      return;
    }
    await this.startDesktop(pod, ip);
  }

  /** The Secret normally exists before its pod; retry briefly for one that shows up late. */
  private async passwordFile(pod: V1Pod): Promise<Buffer> {
    const name = podSecretName(pod);
    if (!name) throw new Error('the pod mounts no VNC Secret');
    for (let attempt = 0; ; attempt++) {
      try {
        const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name });
        const data = secret.data?.[SECRET_PASSWD_FILE_KEY];
        if (!data) throw new Error(`Secret ${name} has no key ${SECRET_PASSWD_FILE_KEY}`);
        return Buffer.from(data, 'base64');
      } catch (e) {
        if (attempt >= 20 || this.stopped) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async startDesktop(pod: V1Pod, ip: string): Promise<void> {
    const name = pod.metadata!.name!;
    const uid = pod.metadata!.uid!;
    const passwd = await this.passwordFile(pod);
    if (this.stopped || wanted(this.latest.get(uid) ?? pod) !== ip) return;
    const dir = mkdtempSync(join(tmpdir(), 'porthole-pod-desktop-'));
    const passwordFile = join(dir, 'passwd');
    writeFileSync(passwordFile, passwd, { mode: 0o600 });
    // Same Xvnc options as the pod's DESKTOP_SCRIPT, plus -interface (the pod IP) and -displayfd (Xvnc
    // picks a free display number itself and writes it to fd 3, so parallel tests never collide).
    const xvnc = spawn(
      'Xvnc',
      [
        '-displayfd', '3',
        '-interface', ip,
        '-rfbport', String(VNC_PORT),
        '-SecurityTypes', 'VncAuth',
        '-PasswordFile', passwordFile,
        '-AlwaysShared', '-UseBlacklist=0', '-noreset', '-nolisten', 'tcp',
        '-geometry', '1280x800', '-depth', '24',
        '-desktop', `${name} (porthole test stand-in)`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const stderr: string[] = [];
    xvnc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    const display = await new Promise<number>((resolve, reject) => {
      let out = '';
      const fd3 = xvnc.stdio[3] as NodeJS.ReadableStream;
      fd3.setEncoding('utf8');
      fd3.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      xvnc.once('error', reject);
      xvnc.once('exit', (code, signal) => reject(new Error(`Xvnc for pod ${name} on ${ip} exited (${code ?? signal}):\n${stderr.join('').slice(-2000)}`)));
    }).catch((e: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    });
    const desktop: PodDesktop = { pod: name, uid, ip, port: VNC_PORT, display, pid: xvnc.pid! };
    this.running.set(uid, { desktop, xvnc, dir });
    xvnc.once('exit', (code, signal) => this.log.push(`${name}: Xvnc :${display} (pid ${desktop.pid}) exited (${code ?? signal})`));
    // The "desktop": one short-lived X client painting the root window (kept by -noreset).
    await new Promise<void>((resolve) => {
      const paint = spawn('xsetroot', ['-mod', '8', '8', '-fg', hex(DESKTOP_COLOURS.foreground), '-bg', hex(DESKTOP_COLOURS.background)], {
        env: { ...process.env, DISPLAY: `:${display}` },
        stdio: 'ignore',
      });
      paint.once('error', (e) => (this.log.push(`${name}: xsetroot: ${e.message} (apt-get install x11-xserver-utils)`), resolve()));
      paint.once('exit', () => resolve());
    });
    this.log.push(`${name}: Xvnc :${display} (pid ${desktop.pid}) on ${ip}:${VNC_PORT}`);
    for (const w of this.waiters.filter((x) => x.pod === name)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(desktop);
    }
  }

  private async stopDesktop(uid: string): Promise<void> {
    const r = this.running.get(uid);
    if (!r) return;
    this.running.delete(uid);
    if (r.xvnc.exitCode === null && r.xvnc.signalCode === null) {
      const exited = new Promise<void>((ok) => r.xvnc.once('exit', () => ok()));
      r.xvnc.kill('SIGTERM');
      const timer = setTimeout(() => r.xvnc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(r.dir, { recursive: true, force: true });
    this.log.push(`${r.desktop.pod}: stopped Xvnc :${r.desktop.display}`);
  }
}

/**
 * A restricted namespace with the xfce Template (tiny requests, for KWOK nodes), the CRDs applied, and
 * stand-in desktops answering at its pods' IPs: what a test of the agent's path to a desktop starts from.
 */
export async function namespaceWithPodDesktops(kc: KubeConfig, prefix: string): Promise<{ ns: string; desktops: PodDesktops }> {
  const ns = await createNamespace(kc, prefix, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  await ensureCrds(kc);
  const template = xfceTemplate(ns);
  template.spec.resources = { requests: { cpu: '10m', memory: '16Mi' } };
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: template });
  return { ns, desktops: await PodDesktops.start(kc, ns) };
}
