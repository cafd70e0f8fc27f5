/**
 * The test cluster's chaos stages (build/cluster/kwok-stages.yaml, listed in docs/cluster.md) do to a
 * real pod what a kubelet would report, so the runtime's failure reasons can be tested: an image that
 * cannot be pulled, and a container that fails once running.
 */
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, deleteNamespaces } from '../support/kube.js';
import { waitFor } from '../support/processes.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
let ns = '';

beforeAll(async () => {
  ns = await createNamespace(kc, 'kwok-chaos');
});

afterAll(async () => {
  await deleteNamespaces(kc, [ns]);
});

const pod = (name: string, meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}): V1Pod => ({
  metadata: { name, ...meta },
  spec: { containers: [{ name: 'desktop', image: `registry.example/${name}:1` }] },
});

const waiting = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.waiting;

describe('KWOK chaos stages on the test cluster', () => {
  it('porthole.dev/test-chaos=image-pull: ErrImagePull, then ImagePullBackOff; the pod never runs', async () => {
    // A watch sees every status the pod goes through (polling could miss the short ErrImagePull).
    const reasons: string[] = [];
    let final: V1Pod | undefined;
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { fieldSelector: 'metadata.name=cannot-pull' },
      (_type, p: V1Pod) => {
        const reason = waiting(p)?.reason;
        if (reason && reasons.at(-1) !== reason) reasons.push(reason);
        if (reason === 'ImagePullBackOff') final = p;
      },
      () => undefined,
    );
    try {
      await core.createNamespacedPod({ namespace: ns, body: pod('cannot-pull', { annotations: { 'porthole.dev/test-chaos': 'image-pull' } }) });
      await core.createNamespacedPod({ namespace: ns, body: pod('control') });
      await waitFor('ImagePullBackOff', () => final, 30_000, 100);
    } finally {
      watch.abort();
    }
    expect(reasons).toEqual(['ErrImagePull', 'ImagePullBackOff']);
    if (!final) throw new Error('unreachable');
    expect(final.status?.phase).toBe('Pending');
    expect(final.status?.podIP).toMatch(/^127\./);
    expect(waiting(final)?.message).toBe('Back-off pulling image "registry.example/cannot-pull:1"');
    expect(final.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
    // The control pod, the same but unannotated, runs: the stage is what made the difference.
    await waitFor('the control pod Running', async () => ((await core.readNamespacedPod({ namespace: ns, name: 'control' })).status?.phase === 'Running' ? true : undefined), 30_000);
    // ...and the chaos pod stays where it is.
    expect(waiting(await core.readNamespacedPod({ namespace: ns, name: 'cannot-pull' }))?.reason).toBe('ImagePullBackOff');
  });

  it('pod-container-running-failed.stage.kwok.x-k8s.io=true: Running, then Failed with the exit code asked for', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: pod('crashes', {
        labels: { 'pod-container-running-failed.stage.kwok.x-k8s.io': 'true' },
        annotations: { 'pod-container-running-failed.stage.kwok.x-k8s.io/exit-code': '3', 'pod-container-running-failed.stage.kwok.x-k8s.io/reason': 'Error' },
      }),
    });
    const failed = await waitFor(
      'the pod Failed',
      async () => {
        const p = await core.readNamespacedPod({ namespace: ns, name: 'crashes' });
        return p.status?.phase === 'Failed' ? p : undefined;
      },
      30_000,
    );
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  });
});
