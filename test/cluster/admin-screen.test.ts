/**
 * Admin mode in the app, end to end: the web shell started with `--admin` and Debian's Chromium on the
 * real control plane. "Set up a cluster" -> a kubeconfig and its contexts -> Check (doctor) -> Plan ->
 * Install with progress until the agent's Deployment is available -> Manage: the agent's replicas, a
 * Template made from the form (refused by the CRD's schema with the field named, then saved) that a
 * person then starts, their session seen and stopped, the Template deleted -> Verify (KWOK's pods only
 * look Available: nothing answers through the Service) -> Remove from cluster, asked first, keeping the
 * person's home volume -> the launcher signs in to the agent at the address the admin gives. A web shell without admin mode
 * offers none of it, and its admin socket does not exist.
 */
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { WEBSHELL_ADMIN_PATH } from '../../bridge/contract.js';
import { AGENT_NAME, homeClaimName } from '../../cluster-agent/kubernetes/resources.js';
import { launchChromium } from '../support/browser.js';
import { getSession, login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { deleteNamespaces, refusal, uniqueName } from '../support/kube.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';
import { NO_KEYCHAIN_ENV } from '../support/web-shell-stack.js';

const kubeconfig = inject('kubeconfig');
const kc = kubeConfigFrom(kubeconfig);
const ns = uniqueName('admin-ui');
const dir = tempDir('admin-ui');
let adminShell: Started;
let agentProcess: Started | undefined;
let plainShell: Started;
let browser: BrowserContext;
let page: Page;

const shell = (args: string[]) => startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--profile-dir', join(dir.path, 'profiles'), ...args], /^webshell on (\S+)/, 30_000, [], { env: NO_KEYCHAIN_ENV(dir.path) });

beforeAll(async () => {
  adminShell = await shell(['--admin']);
  plainShell = await shell([]);
  browser = await launchChromium(join(dir.path, 'chromium'));
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  for (const s of [adminShell, plainShell, agentProcess]) if (s) await stopProcess(s.child);
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

describe('admin mode (web shell --admin)', () => {
  it('checks the cluster, shows the plan, and installs the agent with progress', async () => {
    await page.goto(adminShell.match[1]!);
    await page.getByTestId('open-admin').click();
    await page.getByTestId('admin-kubeconfig').fill(kubeconfig);
    await page.getByTestId('admin-namespace').fill(ns);
    await page.getByTestId('admin-namespace').focus(); // leaving the kubeconfig field loads its contexts
    // The contexts arrive from the kubeconfig; until then the list holds only "the current one".
    await expect.poll(() => page.getByTestId('admin-context').inputValue(), { timeout: 10_000 }).toBe(kc.getCurrentContext());

    await page.getByTestId('admin-doctor').click();
    await page.getByTestId('admin-report').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('admin-report').getAttribute('data-ok')).toBe('true');
    expect(await page.getByTestId('admin-report').textContent()).toMatch(/✓ this kubeconfig may do all \d+ things the install and the agent need/);

    await page.getByTestId('admin-plan').click();
    await page.getByTestId('admin-planned').waitFor({ timeout: 30_000 });
    const rows = await page.getByTestId('admin-plan-row').evaluateAll((els) => els.map((r) => ({ action: r.getAttribute('data-action'), text: r.textContent ?? '' })));
    expect(rows).toHaveLength(12);
    // Everything in the fresh namespace is new; the cluster-wide CRDs may be there already (other installs).
    expect(rows.filter((r) => !r.text.includes('CustomResourceDefinition/')).every((r) => r.action === 'create')).toBe(true);
    expect(rows.filter((r) => !r.text.includes('CustomResourceDefinition/'))).toHaveLength(10);

    await page.getByTestId('admin-install').click();
    await page.getByTestId('admin-done').waitFor({ timeout: 150_000 });
    const progress = await page.getByTestId('admin-progress').textContent();
    expect(progress).toContain(`[1/12] created Namespace/${ns}`);
    expect(progress).toContain(`[7/12] created Deployment/${AGENT_NAME} in ${ns}`);
    expect(progress).toMatch(/the agent is available/);
    expect(await page.getByTestId('admin-done').textContent()).toMatch(new RegExp(`^Installed in [\\d.]+ s: (10|11|12) of 12 objects changed; the agent is available in namespace ${ns}\\.$`));
    expect((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: AGENT_NAME, namespace: ns })).status?.availableReplicas).toBe(2);

    // Manage: the agent, a Template made from a form the API server checks, a user's session seen and stopped.
    await page.getByTestId('admin-manage-load').click();
    await page.locator('[data-testid="admin-agent"], [data-testid="admin-manage-error"]').first().waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('admin-manage-error').count(), (await page.getByTestId('admin-manage-error').textContent().catch(() => '')) ?? '').toBe(0);
    await expect.poll(() => page.getByTestId('admin-agent').textContent()).toMatch(/^Agent \S+: 2 of 2 replicas available\.$/);
    expect(await page.getByTestId('admin-template-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')))).toEqual(['xfce']);
    await page.getByTestId('admin-template-name').fill('terminal');
    await page.getByTestId('admin-template-spec').fill(JSON.stringify({ displayName: 'Terminal', description: 'A shell', image: 'registry.example/desktop:1', idleTimeoutSeconds: 'soon' }));
    await page.getByTestId('admin-template-save').click();
    await expect.poll(() => page.getByTestId('admin-template-error').textContent()).toMatch(/^the API server refused the Template "terminal": .*spec\.idleTimeoutSeconds/);
    await page.getByTestId('admin-template-spec').fill(JSON.stringify({ displayName: 'Terminal', description: 'A shell', image: 'registry.example/desktop:1', idleTimeoutSeconds: 600 }));
    await page.getByTestId('admin-template-save').click();
    await page.getByTestId('admin-template-saved').waitFor();
    await expect.poll(() => page.getByTestId('admin-template-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')))).toEqual(['terminal', 'xfce']);

    // A person then starts it (an agent on the kubernetes runtime, as the Deployment would run it).
    const users = join(dir.path, 'users.yaml');
    expect((await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'tess', '--file', users, '--password-stdin'], 'pw')).code).toBe(0);
    agentProcess = await startKubernetesAgent({ kubeconfig, namespace: ns, users, dataDir: join(dir.path, 'agent') });
    const agentUrl = agentProcess.match[1]!;
    const token = await login(agentUrl, 'tess', 'pw');
    const started = await fetch(new URL('/api/v1/sessions', agentUrl), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ template: 'terminal' }) });
    expect([200, 202]).toContain(started.status);
    const session = (await started.json()) as { id: string };
    await page.getByTestId('admin-manage-load').click();
    await expect.poll(() => page.getByTestId('admin-session-row').allTextContents(), { timeout: 20_000 }).toEqual([expect.stringMatching(/^tess: terminal \((Pending|Starting|Running)\)/)]);
    const row = await page.getByTestId('admin-session-row').getAttribute('data-name');
    await page.getByTestId(`admin-session-stop-${row}`).click();
    await expect.poll(() => page.getByTestId('admin-session-row').count(), { timeout: 20_000 }).toBe(0);
    await expect.poll(async () => (await getSession(agentUrl, token, session.id))?.phase ?? 'gone', { timeout: 20_000 }).toMatch(/^(Stopped|gone)$/);
    await page.getByTestId('admin-template-delete-terminal').click();
    await expect.poll(() => page.getByTestId('admin-template-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')))).toEqual(['xfce']);

    // Verify: KWOK's agent pods only look Available, and verify says so (nothing answers through the Service).
    await page.getByTestId('admin-verify').click();
    await page.getByTestId('admin-verified').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('admin-verified').getAttribute('data-ok')).toBe('false');
    expect(await page.getByTestId('admin-verify-step').allTextContents()).toEqual([expect.stringMatching(new RegExp(`^✗ the agent does not answer /readyz through its Service ${ns}/${AGENT_NAME} \\(.+\\) \\([\\d.]+ s\\)$`))]);

    // Remove from cluster: asked first, homes kept unless ticked.
    await page.getByTestId('admin-uninstall').click();
    await page.getByTestId('admin-uninstall-confirm').waitFor();
    expect(await page.getByTestId('admin-delete-homes').isChecked()).toBe(false);
    await page.getByTestId('admin-uninstall-cancel').click();
    expect(await page.getByTestId('admin-uninstall-confirm').count()).toBe(0);
    expect((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: AGENT_NAME, namespace: ns })).metadata?.name).toBe(AGENT_NAME);
    await page.getByTestId('admin-uninstall').click();
    await page.getByTestId('admin-uninstall-go').click();
    await expect.poll(() => page.getByTestId('admin-done').textContent(), { timeout: 60_000 }).toMatch(new RegExp(`^Removed \\d+ objects from namespace ${ns}; kept the home volumes and the CRDs \\(other installs may use them\\)\\.$`));
    expect(await page.getByTestId('admin-progress').textContent()).toContain(`deleted Deployment/${AGENT_NAME} in ${ns}`);
    expect((await refusal(() => kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: AGENT_NAME, namespace: ns }))).code).toBe(404);
    expect((await kc.makeApiClient(CoreV1Api).readNamespacedPersistentVolumeClaim({ name: homeClaimName('tess'), namespace: ns })).metadata?.name).toBe(homeClaimName('tess'));

    // A bad kubeconfig is a sentence, not a stack.
    await page.getByTestId('admin-kubeconfig').fill(join(dir.path, 'missing.kubeconfig'));
    await page.getByTestId('admin-doctor').click();
    await expect.poll(() => page.getByTestId('admin-error').textContent()).toMatch(/--kubeconfig .*missing\.kubeconfig does not exist/);

    // Then the launcher signs in to the new agent at the address the admin gives (here the agent process
    // that stands in for the Deployment's pods, which KWOK does not run).
    await page.getByTestId('admin-agent-url').fill('desktops.example');
    await page.getByTestId('admin-use-agent').click();
    await expect.poll(() => page.getByTestId('admin-error').textContent()).toMatch(/starts with http:\/\/ or https:\/\//);
    await page.getByTestId('admin-agent-url').fill(agentUrl);
    await page.getByTestId('admin-use-agent').click();
    await page.getByTestId('username').waitFor();
    expect(await page.getByTestId('agent-url').inputValue()).toBe(agentUrl);
    await page.getByTestId('username').fill('tess');
    await page.getByTestId('password').fill('pw');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('sign-out').waitFor({ timeout: 20_000 });
  }, 240_000);

  it('is not there without admin mode: no link, and no admin socket', async () => {
    await page.goto(plainShell.match[1]!);
    await page.getByTestId('username').waitFor();
    expect(await page.getByTestId('open-admin').count()).toBe(0);
    const url = new URL(plainShell.match[1]!);
    const status = await new Promise<number>((ok) => {
      const ws = new WebSocket(`ws://${url.host}${WEBSHELL_ADMIN_PATH}`, { origin: url.origin });
      ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        ok(101);
      });
      ws.on('error', () => ok(-1));
    });
    expect(status).toBe(404);
  });
});
