/**
 * The leader's reconciler: for each Session key, make the cluster match (Secret, home PVC, pod) and
 * the Session's status match the cluster; for each Template key, keep its warm pool at size. Every
 * step is idempotent (AlreadyExists and NotFound are fine), so a reconcile interrupted anywhere, by a
 * crash or a lost leadership, is finished by the next one.
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, SESSION_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../../kubernetes/resources.js';
import { buildHomeClaim, buildSessionPod, buildVncSecret, buildWarmPod, buildWarmPodSecret } from '../../kubernetes/session-objects.js';
import { EventSink, transitionEvent, worthAnEvent } from './events.js';
import type { Caches } from './informers.js';
import { apiMessage, isConflict, isNotFound, mergePatch, statusOf, type KubeClients } from './kube-client.js';
import { deriveStatus, nextDeadline, statusChanged, statusPatch, TERMINAL, timedOut, type DerivedStatus } from './session-status.js';
import { planWarmPool, warmPodName } from './warm-pool.js';
import type { HandlerResult } from './work-queue.js';

/** A Session carrying this annotation is having a warm pod claimed for it: give the claim a moment. */
export const WARM_CLAIM_ANNOTATION = 'porthole.dev/warm-claim';
export const WARM_CLAIM_GRACE_MS = 5_000;

export interface ReconcilerContext {
  clients: KubeClients;
  namespace: string;
  caches: Caches;
  log: Logger;
  startTimeoutMs: number;
  identity: string;
  now: () => number;
}

export const newVncPassword = () => randomBytes(12).toString('base64url');
export const newStreamerSecret = () => randomBytes(32).toString('base64url');

export function ownedBy(obj: { metadata?: { ownerReferences?: { uid: string }[] } }, uid: string | undefined): boolean {
  return !!uid && (obj.metadata?.ownerReferences?.some((r) => r.uid === uid) ?? false);
}

/** Ready before not ready, then oldest: the pod a session keeps when it somehow has two. */
function bestPod(pods: V1Pod[]): V1Pod | undefined {
  const score = (p: V1Pod) => (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 0 : 1);
  return [...pods].sort((a, b) => score(a) - score(b) || String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)))[0];
}

/** client-go's ExpectationsTimeout: 5 minutes there; a minute is plenty for one namespace's watch. */
export const EXPECTATION_TTL_MS = 60_000;

/** Pure: the expected-create entries still worth waiting for (not seen yet, not older than the TTL). */
export function pruneExpectations(expected: Map<string, number> | undefined, seen: (name: string) => boolean, now: number, ttlMs = EXPECTATION_TTL_MS): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, at] of expected ?? []) if (!seen(name) && now - at < ttlMs) out.set(name, at);
  return out;
}

function tag(err: unknown, what: string): unknown {
  if (err !== null && typeof err === 'object') (err as { porthole?: string }).porthole = what;
  return err;
}

export class Reconciler {
  /**
   * Pods created or deleted by us that the cache has not shown yet (client-go's "expectations"), with
   * when: an expectation older than EXPECTATION_TTL_MS is dropped (a create whose event never came,
   * or whose pod was deleted before we saw it, must not hold the pool below size for ever).
   */
  private readonly expectCreated = new Map<string, Map<string, number>>();
  private readonly expectDeleted = new Map<string, number>();
  private readonly warmSecretsDone = new Set<string>();
  /** per session: the error that keeps a start from going on (said in the Timeout message) */
  private readonly lastErrors = new Map<string, string>();

  private readonly events: EventSink;

  constructor(private readonly ctx: ReconcilerContext) {
    this.events = new EventSink(ctx.clients, ctx.log);
  }

  async reconcile(key: string): Promise<HandlerResult> {
    if (key.startsWith('template:')) return this.reconcileWarmPool(key.slice('template:'.length));
    return this.reconcileSession(key.slice('session:'.length));
  }

  // ---- sessions ----------------------------------------------------------------------------

  private async reconcileSession(name: string): Promise<HandlerResult> {
    const { caches, namespace } = this.ctx;
    const session = caches.sessions.get(name, namespace);
    if (!session || session.metadata.deletionTimestamp) {
      this.lastErrors.delete(name);
      return; // the garbage collector removes what it owned
    }
    const uid = session.metadata.uid;
    const owned = caches.pods.list().filter((p) => ownedBy(p, uid));
    const live = owned.filter((p) => !p.metadata?.deletionTimestamp);
    const phase = session.status?.phase ?? 'Pending';

    if (TERMINAL.has(phase) || phase === 'Stopping') {
      // Ended: the pod goes (the home PVC stays; Secret goes with the Session).
      await Promise.all(live.map((p) => this.deletePod(p)));
      if (phase === 'Stopping') return this.writeStatus(session, deriveStatus({ session, pod: owned[0], now: this.ctx.now(), startTimeoutMs: this.ctx.startTimeoutMs }));
      return;
    }

    let pod = bestPod(live);
    for (const extra of live.filter((p) => p !== pod)) await this.deletePod(extra);
    let createError: { status: number; message: string; what: string } | undefined;

    if (!pod && phase !== 'Running') {
      // The deadline first: whatever below keeps failing or waiting, the session ends in time.
      const input = { session, now: this.ctx.now(), startTimeoutMs: this.ctx.startTimeoutMs, ...this.lastErrorOf(name) };
      const expired = timedOut(input);
      if (expired) {
        this.lastErrors.delete(name);
        return this.writeStatus(session, expired);
      }
      const untilDeadline = nextDeadline(session, this.ctx.startTimeoutMs, this.ctx.now()) ?? Infinity;
      const requeue = (ms: number): HandlerResult => ({ requeueAfterMs: Math.min(ms, untilDeadline + 50) });
      const claimAt = session.metadata.annotations?.[WARM_CLAIM_ANNOTATION];
      const sinceCreate = this.ctx.now() - Date.parse(String(session.metadata.creationTimestamp));
      if (claimAt && sinceCreate < WARM_CLAIM_GRACE_MS) return requeue(WARM_CLAIM_GRACE_MS - sinceCreate);
      const template = caches.templates.get(session.spec.template, namespace);
      if (!template) {
        return this.writeStatus(session, { phase: 'Failed', reason: 'TemplateNotFound', message: `The template "${session.spec.template}" no longer exists. Ask an administrator, or pick another desktop.` });
      }
      // A pod of this name from an earlier Session of the same name may still be going away.
      const previous = caches.pods.get(name, namespace);
      if (previous && !ownedBy(previous, uid)) {
        if (!previous.metadata?.deletionTimestamp && !(previous.metadata?.ownerReferences?.length)) await this.deletePod(previous);
        this.lastErrors.set(name, `the previous pod ${name} of this name is still being deleted`);
        await this.writeStatus(session, { phase: 'Pending', message: 'Waiting for the previous desktop of this name to finish ending' });
        return requeue(1000);
      }
      try {
        await this.ensureVncSecret(session);
        await this.ensureHome(session.spec.user);
        const created = await this.ctx.clients.core.createNamespacedPod({ namespace, body: buildSessionPod({ session, template, namespace }) });
        this.ctx.log.info({ session: name, pod: created.metadata?.name }, 'created desktop pod');
        pod = created;
        this.lastErrors.delete(name);
      } catch (err) {
        const status = statusOf(err);
        const what = (err as { porthole?: string }).porthole ?? "the desktop's pod";
        if (isConflict(err) && what === "the desktop's pod") return requeue(500); // exists already; the cache will show it
        if (status === 403 || status === 422 || status === 400) createError = { status, message: apiMessage(err), what };
        else {
          // 500, 429, a webhook down, a Secret not collected yet: retried with backoff until the deadline.
          this.lastErrors.set(name, `${what}: ${apiMessage(err)}`);
          throw Object.assign(err as object, { retryWithinMs: untilDeadline + 50 });
        }
      }
    }

    const next = deriveStatus({ session, ...(pod ? { pod } : {}), now: this.ctx.now(), startTimeoutMs: this.ctx.startTimeoutMs, ...(createError ? { createError } : {}) });
    await this.writeStatus(session, next);
    if (TERMINAL.has(next.phase)) {
      if (pod && !pod.metadata?.deletionTimestamp) await this.deletePod(pod);
      return;
    }
    const due = nextDeadline(session, this.ctx.startTimeoutMs, this.ctx.now());
    return due !== undefined ? { requeueAfterMs: due + 50 } : undefined;
  }

  /** Patches status when it differs, guarded by the resourceVersion read (a stop in between wins). */
  private async writeStatus(session: SessionResource, next: DerivedStatus): Promise<void> {
    if (!statusChanged(session.status, next)) return;
    const now = this.ctx.now();
    const patch = { metadata: { resourceVersion: session.metadata.resourceVersion }, status: statusPatch(session.status, next, now) };
    try {
      await this.ctx.clients.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace: this.ctx.namespace, plural: SESSION_PLURAL, name: session.metadata.name!, body: patch },
        mergePatch(),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err; // 409: changed meanwhile; the queue retries with the fresh object
    }
    const prev = session.status?.phase ?? 'Pending';
    if (prev !== next.phase || session.status?.reason !== next.reason || !session.status?.phase) {
      this.ctx.log.info({ session: session.metadata.name, phase: next.phase, reason: next.reason }, next.message ?? `session ${next.phase}`);
      if (worthAnEvent(next)) this.events.record(transitionEvent(session, next, this.ctx.identity, now));
    }
  }

  private lastErrorOf(name: string): { lastError?: string } {
    const e = this.lastErrors.get(name);
    return e ? { lastError: e } : {};
  }

  /** Errors are tagged with what was being made, for the session's message. */
  private async ensureVncSecret(session: SessionResource): Promise<void> {
    const body = buildVncSecret(session, this.ctx.namespace, newVncPassword(), newStreamerSecret());
    const what = "the desktop's VNC Secret";
    try {
      await this.ctx.clients.core.createNamespacedSecret({ namespace: this.ctx.namespace, body });
    } catch (err) {
      if (!isConflict(err)) throw tag(err, what);
      const existing = await this.ctx.clients.core.readNamespacedSecret({ name: body.metadata!.name!, namespace: this.ctx.namespace }).catch((e: unknown) => {
        throw tag(e, what);
      });
      // An earlier Session's Secret of the same name, not yet collected: wait for the garbage collector.
      if (!ownedBy(existing, session.metadata.uid)) throw tag(new Error(`Secret ${body.metadata!.name} still belongs to an earlier session; waiting for it to be collected`), what);
    }
  }

  private async ensureHome(user: string): Promise<void> {
    try {
      await this.ctx.clients.core.createNamespacedPersistentVolumeClaim({ namespace: this.ctx.namespace, body: buildHomeClaim(user, this.ctx.namespace) });
    } catch (err) {
      if (!isConflict(err)) throw tag(err, 'the home folder (PersistentVolumeClaim)');
    }
  }

  /**
   * Deletes the pod we saw, not whatever now has its name: the uid (and, when given, the
   * resourceVersion) is a precondition, and a 409 means it is another pod or it changed meanwhile.
   */
  private async deletePod(pod: V1Pod, pre: { resourceVersion?: string | undefined } = {}): Promise<void> {
    const name = pod.metadata!.name!;
    const preconditions = { ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}), ...(pre.resourceVersion ? { resourceVersion: pre.resourceVersion } : {}) };
    try {
      await this.ctx.clients.core.deleteNamespacedPod({ name, namespace: this.ctx.namespace, body: { preconditions } });
      this.expectDeleted.set(name, this.ctx.now());
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return; // gone, or not the pod we decided about: its event brings us back
      throw err;
    }
  }

  // ---- warm pools --------------------------------------------------------------------------

  private async reconcileWarmPool(templateName: string): Promise<HandlerResult> {
    const { caches, namespace } = this.ctx;
    const now = this.ctx.now();
    const template = caches.templates.get(templateName, namespace) as TemplateResource | undefined;
    const pods = caches.pods.list();
    // Forget expectations the cache has caught up with, and those too old to still be coming.
    const expected = pruneExpectations(this.expectCreated.get(templateName), (n) => !!caches.pods.get(n, namespace), now);
    this.expectCreated.set(templateName, expected);
    for (const [n, at] of [...this.expectDeleted]) {
      const p = caches.pods.get(n, namespace);
      if (!p || p.metadata?.deletionTimestamp || now - at > EXPECTATION_TTL_MS) this.expectDeleted.delete(n);
    }
    const visible = pods.filter((p) => !this.expectDeleted.has(p.metadata!.name!));
    const plan = planWarmPool(template, templateName, visible);
    for (const n of plan.remove) {
      const pod = caches.pods.get(n, namespace);
      // Only the pod as we saw it: if a start claimed it meanwhile (its resourceVersion changed), it stays.
      if (pod) await this.deletePod(pod, { resourceVersion: pod.metadata?.resourceVersion });
    }
    // Secrets for warm pods whose creator died between the pod and its Secret.
    for (const p of visible) {
      if (p.metadata?.labels?.['porthole.dev/warm'] !== 'true' || p.metadata.labels['porthole.dev/template'] !== templateName) continue;
      await this.ensureWarmSecret(p);
    }
    // Remember Secrets only for pods that still exist.
    const uids = new Set(pods.map((p) => p.metadata?.uid));
    for (const uid of [...this.warmSecretsDone]) if (!uids.has(uid)) this.warmSecretsDone.delete(uid);
    const toCreate = plan.create - expected.size;
    if (template && toCreate > 0) {
      for (let i = 0; i < toCreate; i++) {
        const name = warmPodName(templateName);
        const created = await this.ctx.clients.core.createNamespacedPod({ namespace, body: buildWarmPod(template, namespace, name) });
        expected.set(name, this.ctx.now());
        await this.ensureWarmSecret(created);
        this.ctx.log.info({ template: templateName, pod: name }, 'added a warm pod');
      }
    }
    if (expected.size === 0) this.expectCreated.delete(templateName);
    // Come back when the expected pods should have shown up, in case their events were missed.
    return expected.size > 0 ? { requeueAfterMs: 5000 } : undefined;
  }

  private async ensureWarmSecret(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    if (!uid || this.warmSecretsDone.has(uid)) return;
    try {
      await this.ctx.clients.core.createNamespacedSecret({ namespace: this.ctx.namespace, body: buildWarmPodSecret(pod, newVncPassword(), newStreamerSecret()) });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    this.warmSecretsDone.add(uid);
  }
}
