/**
 * The `kubernetes` runtime: sessions are Session custom resources, desktops are pods. State lives in
 * the cluster only; every replica answers from its informer caches, and the replica that holds the
 * leader Lease runs the reconciler. See docs/kubernetes.md.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import type { Metric } from 'prom-client';
import { UserName, type Session } from '../../contract/index.js';
import { LEADER_LEASE_NAME } from '../../kubernetes/install-manifests.js';
import { GROUP, SESSION_PLURAL, sessionName, STREAMER_PORT, VERSION, VNC_PORT, type SessionResource } from '../../kubernetes/resources.js';
import { buildSession, podSecretName, SECRET_PASSWORD_KEY, SECRET_STREAMER_KEY } from '../../kubernetes/session-objects.js';
import { stopVerdict } from '../stop-expectation.js';
import { RuntimeError, type Runtime, type StartResult, type StopExpectation, type StreamEndpoints, type StreamProtocol, type TemplateSpec } from '../types.js';
import { makeCaches, type Caches } from './informers.js';
import { apiMessage, isConflict, isNotFound, mergePatch, statusOf, type KubeClients } from './kube-client.js';
import { LeaderElector } from './leader-election.js';
import { ownedBy, Reconciler, WARM_CLAIM_ANNOTATION } from './reconciler.js';
import { remoteTakeover, takeoverAnnotation } from './takeovers.js';
import { deriveStatus, statusPatch, TERMINAL, type DerivedStatus } from './session-status.js';
import { devicesOfOtherReplicas, expectedStartSeconds, sessionView, templateSpecOf } from './session-view.js';
import { ViewerReports } from './viewer-reports.js';
import { claimable, claimPatch } from './warm-pool.js';
import { WorkQueue } from './work-queue.js';

export interface KubernetesRuntimeOptions {
  clients: KubeClients;
  namespace: string;
  logger?: Logger;
  /** from Session creation to Running; default 180 s (image pulls of desktop images are slow) */
  startTimeoutMs?: number;
  /** this replica's name in the Lease and in status.viewers; default <hostname>-<pid> */
  identity?: string;
  leaseDurationMs?: number;
  /** how long init() waits for the first list of each cache; default 30 s */
  syncTimeoutMs?: number;
}

type SessionObj = SessionResource & KubernetesObject;

function stoppingStatus(s: SessionResource, message: string): DerivedStatus {
  const st = s.status ?? {};
  return {
    phase: 'Stopping',
    message,
    ...(st.podName ? { podName: st.podName } : {}),
    ...(st.podIP ? { podIP: st.podIP } : {}),
    ...(st.startedAt ? { startedAt: st.startedAt } : {}),
  };
}
const LIVE_OVERLAY_MS = 10_000;
/**
 * Reconciles run at once. A start is a few sequential API round trips (Secret and PVC, pod, status),
 * so with 4 workers 1000 sessions queued at once waited over a minute for their turn while the cluster
 * was idle (bench/kubernetes-sessions.ts); 32 keeps the API server busy without flooding it.
 */
const RECONCILE_WORKERS = 32;

/** resourceVersions are opaque, but etcd's are increasing integers; compare them when they are. */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) > BigInt(b);
}

export class KubernetesRuntime extends EventEmitter implements Runtime {
  readonly kind = 'kubernetes' as const;
  readonly identity: string;
  private readonly log: Logger;
  private readonly ns: string;
  private readonly clients: KubeClients;
  private readonly startTimeoutMs: number;
  private caches?: Caches;
  private queue?: WorkQueue;
  private elector?: LeaderElector;
  private viewers?: ViewerReports;
  /** objects this replica just wrote, shown until the cache has caught up (read-your-writes) */
  private readonly overlay = new Map<string, { obj: SessionObj; at: number }>();
  private closed = false;
  /** per session, the newest other replica's takeover already announced to the agent (ms) */
  private readonly takeoversSeen = new Map<string, number>();

  constructor(private readonly opts: KubernetesRuntimeOptions) {
    super();
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.ns = opts.namespace;
    this.clients = opts.clients;
    this.startTimeoutMs = opts.startTimeoutMs ?? 180_000;
    this.identity = opts.identity ?? `${hostname()}-${process.pid}`;
  }

  // ---- Runtime interface -------------------------------------------------------------------

  /** Lists everything (the informers' first list), then competes for the leader Lease. */
  async init(): Promise<void> {
    if (this.caches) return;
    await this.checkAccess();
    const caches = makeCaches(this.clients, this.ns, this.log);
    const reconciler = new Reconciler({
      clients: this.clients,
      namespace: this.ns,
      caches,
      log: this.log,
      startTimeoutMs: this.startTimeoutMs,
      identity: this.identity,
      now: Date.now,
    });
    const queue = new WorkQueue((key) => reconciler.reconcile(key), {
      concurrency: RECONCILE_WORKERS,
      onError: (key, err, attempt) => this.log[attempt > 3 ? 'warn' : 'debug']({ key, attempt, err: apiMessage(err) }, 'reconcile failed; retrying'),
    });
    caches.sessions.on((kind, s) => {
      queue.add(`session:${s.metadata.name}`);
      if (kind === 'delete') {
        this.takeoversSeen.delete(s.metadata.name!);
        return;
      }
      this.emit('session', this.view(s));
      const takeover = remoteTakeover(s, this.identity, this.takeoversSeen.get(s.metadata.name!));
      if (takeover) {
        this.takeoversSeen.set(takeover.session, takeover.at);
        // A takeover from before this replica started ended nothing here: there was nothing to end.
        this.emit('takeover', takeover);
      }
    });
    caches.templates.on((_kind, t) => queue.add(`template:${t.metadata!.name}`));
    caches.pods.on((_kind, p) => this.onPod(p, queue));
    const timeout = this.opts.syncTimeoutMs ?? 30_000;
    const all = [caches.sessions, caches.templates, caches.pods];
    const started = await Promise.allSettled(all.map((c) => c.start(timeout)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // No watch may outlive a failed init (it would keep the process and the API server busy).
      await Promise.all(all.map((c) => c.stop()));
      throw failed.reason;
    }
    this.caches = caches;
    this.queue = queue;
    this.viewers = new ViewerReports(this.clients, this.ns, this.identity, this.log, undefined, undefined, (id) => caches.sessions.get(id, this.ns)?.status?.viewers);
    this.elector = new LeaderElector({
      clients: this.clients,
      namespace: this.ns,
      name: LEADER_LEASE_NAME,
      identity: this.identity,
      log: this.log,
      ...(this.opts.leaseDurationMs !== undefined ? { leaseDurationMs: this.opts.leaseDurationMs } : {}),
      onStartedLeading: () => {
        // A new leader trusts nothing it did not see: every object is looked at once.
        queue.start();
        for (const s of caches.sessions.list()) queue.add(`session:${s.metadata.name}`);
        for (const t of caches.templates.list()) queue.add(`template:${t.metadata!.name}`);
      },
      // Nothing new starts, and the reconciles already running finish before close() hands the Lease back.
      onStoppedLeading: async () => {
        queue.stop();
        await queue.drain();
      },
    });
    this.elector.start();
  }

  /** porthole_kubernetes_requests_total: what this replica sends to the API server */
  metrics(): Metric[] {
    return [this.clients.requests];
  }

  /** Not ok when a cache's watch has been failing for a while: this replica's answers would be stale. */
  healthy(): { ok: boolean; message: string } {
    if (!this.caches) return { ok: false, message: 'not initialised' };
    const bad = Object.entries(this.caches)
      .map(([name, c]) => ({ name, h: (c as Caches['pods']).health() }))
      .filter((x) => !x.h.ok);
    if (bad.length === 0) return { ok: true, message: 'ready' };
    return {
      ok: false,
      message: bad.map(({ name, h }) => `the ${name} watch has failed for ${Math.round((Date.now() - h.failingSince!) / 1000)} s (${h.lastError ?? 'no detail'})`).join('; '),
    };
  }

  get isLeader(): boolean {
    return this.elector?.isLeader ?? false;
  }

  /** Resolves when the reconciler has nothing queued (tests). */
  idle(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  async templates(): Promise<TemplateSpec[]> {
    return this.ready()
      .templates.list()
      .map((t) => templateSpecOf(t));
  }

  async list(): Promise<Session[]> {
    return this.sessionObjects().map((s) => this.view(s));
  }

  async get(id: string): Promise<Session | undefined> {
    const s = await this.sessionObject(id);
    return s && this.view(s);
  }

  async startOrGet(user: string, templateName: string): Promise<StartResult> {
    const caches = this.ready();
    if (!UserName.safeParse(user).success) throw new RuntimeError('bad_request', `"${user}" is not a valid user name`);
    const template = caches.templates.get(templateName, this.ns);
    if (!template) throw new RuntimeError('not_found', `There is no template "${templateName}" in namespace ${this.ns}`);
    const name = sessionName(user, templateName);
    for (let attempt = 0; attempt < 5; attempt++) {
      // A name the cache has never seen is almost always new: create at once (a stale cache only costs
      // an AlreadyExists and a second round that reads it). One GET less per new session.
      const known = attempt > 0 || caches.sessions.get(name, this.ns) !== undefined;
      const existing = known ? await this.fetchSession(name) : undefined;
      const phase = existing?.status?.phase ?? 'Pending';
      // Stopping counts as ended: a start replaces it rather than waiting for its pod to go.
      // The name is a hash of user and template: never hand out a Session that is somebody else's.
      if (existing && (existing.spec?.user !== user || existing.spec?.template !== templateName)) {
        this.log.error({ session: name, user, template: templateName, holder: existing.spec?.user, holderTemplate: existing.spec?.template }, 'session name collision');
        throw new RuntimeError('conflict', `The session name ${name} is already used by another user's or template's session; ask an administrator to delete that Session`);
      }
      if (existing && !existing.metadata.deletionTimestamp && !TERMINAL.has(phase) && phase !== 'Stopping') {
        return { session: this.view(this.remember(existing)), created: false };
      }
      if (existing) await this.deleteEnded(existing);
      const warm = claimable(caches.pods.list(), templateName).length > 0;
      const body = buildSession(name, this.ns, user, templateName);
      if (warm) body.metadata.annotations = { [WARM_CLAIM_ANNOTATION]: 'true' };
      let created: SessionObj;
      try {
        created = (await this.clients.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.ns, plural: SESSION_PLURAL, body })) as SessionObj;
      } catch (err) {
        if (isConflict(err)) continue; // a concurrent request (or the old one still going): look again
        throw this.unavailable(err, 'create the session');
      }
      this.remember(created);
      this.log.info({ session: name, user, template: templateName }, 'session created');
      if (warm) {
        const claimed = await this.claimWarmPod(created);
        if (claimed) return { session: this.view(claimed), created: true };
      }
      return { session: this.view(created), created: true };
    }
    throw new RuntimeError('conflict', `The desktop "${templateName}" is changing state right now; try again in a moment`);
  }

  /** Stopping: the pod is deleted now, the leader marks the session Stopped once it is gone. */
  async stop(id: string, reason?: string, expect: StopExpectation = {}): Promise<void> {
    this.ready();
    for (let attempt = 0; attempt < 5; attempt++) {
      const s = await this.fetchSession(id);
      if (!s) throw new RuntimeError('not_found', `There is no session "${id}"`);
      const phase = s.status?.phase ?? 'Pending';
      if (TERMINAL.has(phase) || phase === 'Stopping') return;
      // Decided on an older view: leave a fresh restart of the same id, or a session watched meanwhile, alone.
      const view = this.view(s);
      const verdict = stopVerdict(view, expect, Date.now());
      if (verdict !== 'stop') {
        this.log.info({ session: id, expected: expect.createdAt, actual: view.createdAt }, verdict === 'replaced' ? 'not stopping: the session was replaced by a new one' : 'not stopping: the session is no longer idle');
        return;
      }
      const message = reason ?? 'The desktop was stopped. Files in your home folder are kept.';
      const now = Date.now();
      try {
        const patched = (await this.clients.custom.patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            namespace: this.ns,
            plural: SESSION_PLURAL,
            name: id,
            // The resourceVersion read guards the checks above: anything written since (a viewer) means look again.
            body: { metadata: { resourceVersion: s.metadata.resourceVersion }, status: statusPatch(s.status, stoppingStatus(s, message), now) },
          },
          mergePatch(),
        )) as SessionObj;
        this.remember(patched);
      } catch (err) {
        if (isConflict(err)) continue;
        if (isNotFound(err)) return;
        throw this.unavailable(err, 'stop the session');
      }
      for (const pod of this.ready().pods.list().filter((p) => ownedBy(p, s.metadata.uid) && !p.metadata?.deletionTimestamp)) {
        await this.clients.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: this.ns }).catch((err: unknown) => {
          if (!isNotFound(err)) this.log.warn({ err: apiMessage(err), session: id }, 'could not delete the pod; the leader retries');
        });
      }
      this.log.info({ session: id, reason }, 'session stopping');
      return;
    }
    throw new RuntimeError('conflict', `The session "${id}" is changing state right now; try again in a moment`);
  }

  async streamEndpoint<P extends StreamProtocol>(id: string, protocol: P): Promise<StreamEndpoints[P]> {
    const { ip, secret, templateName } = await this.podSecrets(id);
    if (protocol === 'webrtc') {
      const streamer = secret[SECRET_STREAMER_KEY];
      const template = (await this.templates()).find((t) => t.name === templateName);
      if (!streamer || !template?.protocols.includes('webrtc')) throw new RuntimeError('unavailable', 'this desktop streams over VNC only');
      return { kind: 'tcp', host: ip, port: STREAMER_PORT, secret: streamer } as StreamEndpoints[P];
    }
    const password = secret[SECRET_PASSWORD_KEY];
    if (!password) throw new RuntimeError('unavailable', "The desktop's Secret has no password");
    return { kind: 'tcp', host: ip, port: VNC_PORT, password } as StreamEndpoints[P];
  }

  /** A Running session's pod IP and the decoded keys of its Secret. */
  private async podSecrets(id: string): Promise<{ ip: string; secret: Record<string, string>; templateName: string }> {
    const s = await this.sessionObject(id);
    if (!s) throw new RuntimeError('not_found', `There is no session "${id}"`);
    const phase = s.status?.phase ?? 'Pending';
    if (phase !== 'Running') throw new RuntimeError('not_ready', `The desktop ${id} is ${phase}, not Running: it cannot be viewed now`);
    const pod = this.podOf(s);
    const ip = pod?.status?.podIP ?? s.status?.podIP;
    const secretName = pod ? podSecretName(pod) : undefined;
    if (!pod || !ip || !secretName) throw new RuntimeError('not_ready', `The desktop ${id} has no running pod right now: it cannot be viewed`);
    try {
      const secret = await this.clients.core.readNamespacedSecret({ name: secretName, namespace: this.ns });
      const decoded = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      return { ip, secret: decoded, templateName: s.spec.template };
    } catch (err) {
      if (isNotFound(err)) throw new RuntimeError('not_ready', `The desktop ${id} is ending: it cannot be viewed now`);
      throw this.unavailable(err, "read the desktop's Secret");
    }
  }

  async setConnectedClients(id: string, count: number, devices: readonly string[] = []): Promise<void> {
    if (!this.viewers || this.closed) return;
    await this.viewers.report(id, Math.max(0, Math.floor(count)), devices);
  }

  devicesViewingElsewhere(id: string): string[] {
    return devicesOfOtherReplicas(this.caches?.sessions.get(id, this.ns)?.status?.viewers, this.identity, Date.now());
  }

  async announceTakeover(id: string, device: string): Promise<void> {
    if (this.closed) return;
    const body = { metadata: { annotations: takeoverAnnotation(device, new Date(), this.identity) } };
    await this.clients.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.ns, plural: SESSION_PLURAL, name: id, body }, mergePatch());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The elector stops the queue and waits for running reconciles before it releases the Lease.
    await this.elector?.stop();
    this.queue?.stop();
    await this.queue?.drain();
    await this.viewers?.close();
    if (this.caches) await Promise.all([this.caches.sessions.stop(), this.caches.templates.stop(), this.caches.pods.stop()]);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private ready(): Caches {
    if (this.closed) throw new RuntimeError('not_ready', 'The Kubernetes runtime is shutting down');
    if (!this.caches) throw new RuntimeError('not_ready', 'The Kubernetes runtime has not listed the cluster yet');
    return this.caches;
  }

  /** A clear sentence for the usual set-up mistakes, before any informer starts. */
  private async checkAccess(): Promise<void> {
    try {
      await this.clients.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.ns, plural: SESSION_PLURAL, limit: 1 });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new RuntimeError('unavailable', `The Session CRD (sessions.${GROUP}) is not installed: apply \`porthole-agent manifests\` first`);
      if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not list sessions in namespace ${this.ns} (${apiMessage(err)}): check its Role`);
      if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${this.clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
      throw this.unavailable(err, 'reach the Kubernetes API server');
    }
  }

  private unavailable(err: unknown, what: string): RuntimeError {
    const status = statusOf(err);
    return new RuntimeError('unavailable', `Could not ${what}: ${status ? `the cluster said ${status}: ${apiMessage(err)}` : `the cluster is unreachable (${apiMessage(err)})`}`);
  }

  /** The API view, with this replica's own open streams counted as of now (its write may still be on the way). */
  private view(s: SessionObj): Session {
    const local = this.viewers?.localCount(s.metadata.name!);
    const st = s.status ?? {};
    const mine = st.viewers?.[this.identity];
    // Only a session still starting needs the estimate (the launcher's progress bar).
    const starting = !st.phase || st.phase === 'Pending' || st.phase === 'Starting';
    const expected = starting && this.caches ? expectedStartSeconds(this.caches.sessions.list(), s.spec.template) : undefined;
    if (local === undefined || (mine?.count === local && local === 0)) return sessionView(s, Date.now(), expected);
    // Open streams here are activity as of now; a 0 not yet written only takes our count away.
    const entry = local > 0 ? { count: local, seenAt: new Date().toISOString() } : mine ? { ...mine, count: 0 } : undefined;
    if (!entry) return sessionView(s, Date.now(), expected);
    return sessionView({ ...s, status: { ...st, viewers: { ...st.viewers, [this.identity]: entry } } }, Date.now(), expected);
  }

  private remember(obj: SessionObj): SessionObj {
    this.overlay.set(obj.metadata.name!, { obj, at: Date.now() });
    return obj;
  }

  /** The cache's object, unless this replica just wrote a newer one the watch has not delivered. */
  private merged(name: string): SessionObj | undefined {
    const cached = this.caches?.sessions.get(name, this.ns);
    const o = this.overlay.get(name);
    if (!o) return cached;
    if (Date.now() - o.at > LIVE_OVERLAY_MS) {
      this.overlay.delete(name);
      return cached;
    }
    if (!cached) return o.obj;
    if (cached.metadata.uid !== o.obj.metadata.uid) return Date.parse(String(o.obj.metadata.creationTimestamp)) >= Date.parse(String(cached.metadata.creationTimestamp)) ? o.obj : cached;
    return newer(o.obj.metadata.resourceVersion, cached.metadata.resourceVersion) ? o.obj : cached;
  }

  private sessionObjects(): SessionObj[] {
    const names = new Set([...this.ready().sessions.list().map((s) => s.metadata.name!), ...this.overlay.keys()]);
    return [...names].map((n) => this.merged(n)).filter((s): s is SessionObj => !!s);
  }

  private async sessionObject(id: string): Promise<SessionObj | undefined> {
    this.ready();
    return this.merged(id);
  }

  /** From the API server, not the cache: start and stop decide on the latest state. */
  private async fetchSession(name: string): Promise<SessionObj | undefined> {
    try {
      return (await this.clients.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.ns, plural: SESSION_PLURAL, name })) as SessionObj;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.unavailable(err, 'read the session');
    }
  }

  /**
   * A Stopped/Failed session of this user+template: delete it (only that one, by uid) so a fresh
   * Session of the same name starts clean; its pod and Secret go with it, the home PVC stays.
   */
  private async deleteEnded(s: SessionObj): Promise<void> {
    if (s.metadata.deletionTimestamp) return;
    try {
      await this.clients.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.ns,
        plural: SESSION_PLURAL,
        name: s.metadata.name!,
        body: { preconditions: { uid: s.metadata.uid! }, propagationPolicy: 'Background' },
      });
      this.log.info({ session: s.metadata.name, phase: s.status?.phase }, 'replacing an ended session');
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return; // gone already, or replaced by a concurrent start
      throw this.unavailable(err, 'replace the ended session');
    }
  }

  /** Hands a ready warm pod to the new session; the loser of a race for a pod tries the next one. */
  private async claimWarmPod(session: SessionObj): Promise<SessionObj | undefined> {
    for (const pod of claimable(this.ready().pods.list(), session.spec.template)) {
      let claimed: V1Pod;
      try {
        claimed = await this.clients.core.patchNamespacedPod({ name: pod.metadata!.name!, namespace: this.ns, body: claimPatch(pod, session) }, mergePatch());
      } catch (err) {
        if (isConflict(err) || isNotFound(err)) continue;
        this.log.warn({ err: apiMessage(err) }, 'could not claim a warm pod; the session starts a pod of its own');
        return undefined;
      }
      this.log.info({ session: session.metadata.name, pod: claimed.metadata?.name }, 'claimed a warm pod');
      const now = Date.now();
      const next = deriveStatus({ session, pod: claimed, now, startTimeoutMs: this.startTimeoutMs });
      try {
        const patched = (await this.clients.custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace: this.ns, plural: SESSION_PLURAL, name: session.metadata.name!, body: { status: statusPatch(session.status, next, now) } },
          mergePatch(),
        )) as SessionObj;
        return this.remember(patched);
      } catch (err) {
        this.log.debug({ err: apiMessage(err) }, 'status after claim not written; the leader will');
        return undefined;
      }
    }
    return undefined;
  }

  private podOf(s: SessionObj): V1Pod | undefined {
    const pods = this.ready().pods.list().filter((p) => ownedBy(p, s.metadata.uid) && !p.metadata?.deletionTimestamp);
    return pods.find((p) => p.metadata?.name === s.status?.podName) ?? pods[0];
  }

  private onPod(p: V1Pod, queue: WorkQueue): void {
    for (const ref of p.metadata?.ownerReferences ?? []) if (ref.kind === 'Session') queue.add(`session:${ref.name}`);
    const t = p.metadata?.labels?.['porthole.dev/template'];
    if (t) queue.add(`template:${t}`);
  }
}
