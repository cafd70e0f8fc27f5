/**
 * Admin mode end to end on a cluster whose pods really run: the web shell started with `--admin` and
 * Debian's Chromium, against the control plane with the real kubelet node. Check -> Install (the agent's
 * image as two pods on the node) -> Verify passes (its /readyz through the API server's service proxy,
 * and a smoke-test session Running on the node, then removed) -> a Template made in the form -> Use the
 * new agent: the launcher signs a person in to it, and the person starts that Template and sees XFCE.
 *
 * For the install to run unchanged (no node selector in it), the real node is the one place pods may go
 * while this file runs: the KWOK nodes are cordoned and the real node's taint is lifted, and both are
 * put back afterwards. The admin's own step before the install, the users Secret, is made by the test.
 */
import { AppsV1Api, CoreV1Api, type V1Node, type V1Taint } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { AGENT_NAME, LABELS } from '../../cluster-agent/kubernetes/resources.js';
import { mergePatch } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { launchChromium } from '../support/browser.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { screenColours } from '../support/desktop-view.js';
import { deleteNamespaces } from '../support/kube.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';
import { relayInto } from '../support/real-node.js';
import { NO_KEYCHAIN_ENV } from '../support/web-shell-stack.js';
import { serviceEndpoint } from './support.js';

const kubeconfig = inject('kubeconfig');
const node = inject('realNode');
const kc = kubeConfigFrom(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const ns = `porthole-admin-node-${process.pid}`;
const dir = tempDir('admin-node');
let shell: Started;
let browser: BrowserContext;
let page: Page;
let relay: Awaited<ReturnType<typeof relayInto>> | undefined;
/** what this file changed on the nodes, to put back */
const cordoned: string[] = [];
let realTaints: V1Taint[] | undefined;

const patchNode = (name: string, body: Partial<V1Node>) => core.patchNode({ name, body }, mergePatch());

beforeAll(async () => {
  for (const n of (await core.listNode()).items) {
    const name = n.metadata!.name!;
    if (name === node.name) {
      realTaints = n.spec?.taints ?? [];
      await patchNode(name, { spec: { taints: realTaints.filter((t) => t.key !== 'porthole.dev/node') } });
    } else if (!n.spec?.unschedulable) {
      await patchNode(name, { spec: { unschedulable: true } });
      cordoned.push(name);
    }
  }
  // The admin's step before an install: the namespace, and the people who may sign in as a Secret.
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const users = join(dir.path, 'users.yaml');
  expect((await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'rita', '--file', users, '--password-stdin'], 'rita-password')).code).toBe(0);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'porthole-users' }, stringData: { 'users.yaml': readFileSync(users, 'utf8') } } });

  shell = await startCli('main/webshell/cli.ts', ['--admin', '--listen', '127.0.0.1:0', '--profile-dir', join(dir.path, 'profiles')], /^webshell on (\S+)/, 30_000, [], { env: NO_KEYCHAIN_ENV(dir.path) });
  browser = await launchChromium(join(dir.path, 'chromium'));
  page = browser.pages()[0] ?? (await browser.newPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (shell) await stopProcess(shell.child);
  await relay?.close();
  await deleteNamespaces(kc, [ns]);
  for (const name of cordoned) await patchNode(name, { spec: { unschedulable: false } }).catch(() => undefined);
  if (realTaints) await patchNode(node.name, { spec: { taints: realTaints } }).catch(() => undefined);
  dir.remove();
}, 120_000);

describe('admin mode on a cluster whose pods run', () => {
  it('installs the agent, verifies it for real, and a person starts the Template made in the form', async () => {
    await page.goto(shell.match[1]!);
    await page.getByTestId('open-admin').click();
    await page.getByTestId('admin-kubeconfig').fill(kubeconfig);
    await page.getByTestId('admin-namespace').fill(ns);
    await page.getByTestId('admin-doctor').click();
    await page.getByTestId('admin-report').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('admin-report').getAttribute('data-ok')).toBe('true');

    await page.getByTestId('admin-install').click();
    await page.getByTestId('admin-done').waitFor({ timeout: 150_000 });
    expect(await page.getByTestId('admin-done').textContent()).toMatch(new RegExp(`^Installed in [\\d.]+ s: .* the agent is available in namespace ${ns}\\.$`));
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.name}=${AGENT_NAME}` });
    expect(pods.items.map((p) => [p.spec?.nodeName, p.status?.phase])).toEqual([[node.name, 'Running'], [node.name, 'Running']]);
    expect((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: AGENT_NAME, namespace: ns })).status?.availableReplicas).toBe(2);

    // Verify: the agent answers through the API server, and a smoke-test session runs on the node.
    await page.getByTestId('admin-verify').click();
    await page.getByTestId('admin-verified').waitFor({ timeout: 150_000 });
    const steps = await page.getByTestId('admin-verify-step').allTextContents();
    expect(steps, steps.join('\n')).toEqual([
      expect.stringMatching(/^✓ the agent answers through its Service: .*ok.* \([\d.]+ s\)$/),
      expect.stringMatching(/^✓ a smoke-test session of xfce reached Running, and was removed \([\d.]+ s\)$/),
    ]);
    expect(await page.getByTestId('admin-verified').getAttribute('data-ok')).toBe('true');

    // A Template from the form: the project's desktop, sized for this 2-core node.
    const spec = { ...xfceTemplate(ns).spec, displayName: 'Office desktop', description: 'XFCE for the office', resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } } };
    await page.getByTestId('admin-manage-load').click();
    await page.getByTestId('admin-template-name').waitFor({ timeout: 30_000 });
    await page.getByTestId('admin-template-name').fill('office');
    await page.getByTestId('admin-template-spec').fill(JSON.stringify(spec));
    await page.getByTestId('admin-template-save').click();
    await page.getByTestId('admin-template-saved').waitFor({ timeout: 30_000 });

    // Use the new agent at its address for people: here a relay to its Service's endpoint (no
    // kube-proxy or Ingress runs here, and pod addresses stay inside the node's network).
    const endpoint = await serviceEndpoint(kc, ns, AGENT_NAME, 'http');
    relay = await relayInto(node.netns, endpoint.port, endpoint.address);
    await page.getByTestId('admin-agent-url').fill(relay.url);
    await page.getByTestId('admin-use-agent').click();
    await page.getByTestId('username').fill('rita');
    await page.getByTestId('password').fill('rita-password');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('template-office').click({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 120_000 }).toBe('connected');
    // XFCE's panel and wallpaper: many colours, where Xvnc's empty screen is one.
    await expect.poll(() => screenColours(page), { timeout: 60_000 }).toBeGreaterThan(16);
    const id = await page.getByTestId('session-view').getAttribute('data-session-id');
    const pod = await core.readNamespacedPod({ name: id!, namespace: ns });
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.status?.containerStatuses?.find((c) => c.name === 'desktop')?.ready).toBe(true);
  }, 420_000);
});
