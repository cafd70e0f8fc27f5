import { useEffect, useState } from 'react';
import type { z } from 'zod';
import type { AdminApi, AdminDoctorReport, AdminPlannedObject, AdminTarget, AdminVerifyStep, LauncherEvent } from '../../../bridge/contract.js';
import { AdminManage } from '../components/AdminManage.js';
import { errorSentence } from '../logic/errors.js';

type Report = z.infer<typeof AdminDoctorReport>;
type Planned = z.infer<typeof AdminPlannedObject>;
type Verified = { ok: boolean; steps: Array<z.infer<typeof AdminVerifyStep>> };
const MARK = { ok: '✓', warning: '!', error: '✗' } as const;

/**
 * Admin mode: set the agent up in a cluster, the same steps as `porthole-agent doctor|install|verify|uninstall`:
 * choose a kubeconfig and context, check (doctor), see the plan, install with progress, verify that the
 * agent answers, and remove it again (asked twice; home volumes kept unless ticked).
 */
export function Admin({ admin, onBack, onUseAgent }: { admin: AdminApi; onBack(): void; /** sign in to the installed agent at this address */ onUseAgent(url: string): void }) {
  const [kubeconfig, setKubeconfig] = useState('');
  const [contexts, setContexts] = useState<Array<{ name: string; server?: string }>>([]);
  const [context, setContext] = useState<string>();
  const [namespace, setNamespace] = useState('porthole');
  const [image, setImage] = useState('');
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [report, setReport] = useState<Report>();
  const [planned, setPlanned] = useState<Planned[]>();
  const [progress, setProgress] = useState<string[]>([]);
  const [done, setDone] = useState<string>();
  const [verified, setVerified] = useState<Verified>();
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [deleteHomes, setDeleteHomes] = useState(false);
  const [agentAddress, setAgentAddress] = useState('');

  useEffect(() => admin.onEvent((e: LauncherEvent) => e.type === 'admin' && setProgress((p) => [...p.filter((l) => !(l.startsWith('waiting for the agent') && e.line.startsWith('waiting for the agent'))), e.line])), [admin]);

  const target = (): AdminTarget => ({ kubeconfig: kubeconfig.trim(), namespace: namespace.trim(), ...(context ? { context } : {}), ...(image.trim() ? { image: image.trim() } : {}) });
  const step = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    setError(undefined);
    try {
      await work();
    } catch (caught) {
      setError(errorSentence(caught, 'That step failed. Please try again.'));
    } finally {
      setBusy(undefined);
    }
  };
  /** A step that reports as it goes (AdminEvent lines) and ends with a sentence of what it did. */
  const progressStep = (name: string, work: () => Promise<string>) =>
    step(name, async () => {
      setProgress([]);
      setDone(undefined);
      setDone(await work());
    });
  const loadContexts = () =>
    step('contexts', async () => {
      const found = await admin.adminContexts(kubeconfig.trim());
      setContexts(found.contexts);
      setContext(found.current);
    });

  return (
    <main className="launcher admin">
      <header className="launcher-header">
        <h1>Set up a cluster</h1>
        <button type="button" data-testid="admin-back" onClick={onBack}>
          ← Sign-in
        </button>
      </header>
      <section className="card admin-form" aria-busy={!!busy}>
        <label htmlFor="admin-kubeconfig">Kubeconfig file (empty: $KUBECONFIG or ~/.kube/config)</label>
        <input id="admin-kubeconfig" data-testid="admin-kubeconfig" value={kubeconfig} spellCheck={false} onChange={(e) => setKubeconfig(e.target.value)} onBlur={() => void loadContexts()} />
        <label htmlFor="admin-context">Context</label>
        <select id="admin-context" data-testid="admin-context" value={context ?? ''} onChange={(e) => setContext(e.target.value || undefined)}>
          {contexts.length === 0 ? <option value="">(the kubeconfig's current one)</option> : null}
          {contexts.map((c) => (
            <option key={c.name} value={c.name}>
              {c.name}
              {c.server ? ` — ${c.server}` : ''}
            </option>
          ))}
        </select>
        <label htmlFor="admin-namespace">Namespace</label>
        <input id="admin-namespace" data-testid="admin-namespace" value={namespace} spellCheck={false} onChange={(e) => setNamespace(e.target.value)} />
        <label htmlFor="admin-image">Agent image (empty: this version's)</label>
        <input id="admin-image" data-testid="admin-image" value={image} spellCheck={false} onChange={(e) => setImage(e.target.value)} />
        <div className="overlay-actions">
          <button type="button" data-testid="admin-doctor" disabled={!!busy} onClick={() => void step('doctor', async () => setReport(await admin.adminDoctor(target())))}>
            {busy === 'doctor' ? 'Checking…' : 'Check'}
          </button>
          <button type="button" data-testid="admin-plan" disabled={!!busy} onClick={() => void step('plan', async () => setPlanned(await admin.adminPlan(target())))}>
            {busy === 'plan' ? 'Planning…' : 'Plan'}
          </button>
          <button
            type="button"
            className="primary"
            data-testid="admin-install"
            disabled={!!busy}
            onClick={() =>
              void progressStep('install', async () => {
                const result = await admin.adminInstall(target());
                return `Installed in ${result.seconds} s: ${result.objects.filter((o) => o.action !== 'unchanged').length} of ${result.objects.length} objects changed; the agent is available in namespace ${namespace.trim()}.`;
              })
            }
          >
            {busy === 'install' ? 'Installing…' : 'Install or upgrade'}
          </button>
          <button type="button" data-testid="admin-verify" disabled={!!busy} onClick={() => void step('verify', async () => setVerified(await admin.adminVerify(target())))}>
            {busy === 'verify' ? 'Verifying…' : 'Verify'}
          </button>
          <button type="button" className="danger" data-testid="admin-uninstall" disabled={!!busy} onClick={() => setConfirmRemove(true)}>
            Remove from cluster
          </button>
        </div>
        {confirmRemove ? (
          <div className="confirm" role="alertdialog" aria-labelledby="admin-remove-title" data-testid="admin-uninstall-confirm">
            <p id="admin-remove-title">
              Remove the agent from namespace {namespace.trim()}? People&apos;s desktops there stop working. The CRDs stay (other installs may use them).
            </p>
            <label>
              <input type="checkbox" data-testid="admin-delete-homes" checked={deleteHomes} onChange={(e) => setDeleteHomes(e.target.checked)} /> Also delete everyone&apos;s home volumes and the namespace (cannot be undone)
            </label>
            <div className="overlay-actions">
              <button type="button" data-testid="admin-uninstall-cancel" onClick={() => setConfirmRemove(false)}>
                Cancel
              </button>
              <button
                type="button"
                className="danger"
                data-testid="admin-uninstall-go"
                disabled={!!busy}
                onClick={() => {
                  setConfirmRemove(false);
                  void progressStep('uninstall', async () => {
                    const result = await admin.adminUninstall(target(), { deleteHomes });
                    return `Removed ${result.deleted} objects from namespace ${namespace.trim()}; kept ${result.kept.join(' and ')}.`;
                  });
                }}
              >
                {busy === 'uninstall' ? 'Removing…' : 'Remove'}
              </button>
            </div>
          </div>
        ) : null}
        {error ? (
          <p role="alert" className="error" data-testid="admin-error">
            {error}
          </p>
        ) : null}
      </section>
      {report ? (
        <section className="card" data-testid="admin-report" data-ok={report.ok}>
          <h2>
            {report.server}
            {report.version ? ` (Kubernetes ${report.version})` : ''}
          </h2>
          <ul>
            {report.checks.map((c) => (
              <li key={c.id} data-testid="admin-check" data-level={c.level}>
                {MARK[c.level]} {c.sentence}
                {c.fix ? <span className="muted"> Fix: {c.fix}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {planned ? (
        <section className="card" data-testid="admin-planned">
          <h2>Plan (nothing changed)</h2>
          <ul>
            {planned.map((p) => (
              <li key={p.id} data-testid="admin-plan-row" data-action={p.action}>
                {p.action} {p.id}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {verified ? (
        <section className="card" data-testid="admin-verified" data-ok={verified.ok}>
          <h2>Verify</h2>
          <ul>
            {verified.steps.map((v) => (
              <li key={v.step} data-testid="admin-verify-step" data-ok={v.ok}>
                {v.ok ? MARK.ok : MARK.error} {v.sentence} <span className="muted">({(v.ms / 1000).toFixed(1)} s)</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {progress.length || done ? (
        <section className="card" data-testid="admin-progress" aria-live="polite">
          <ul>
            {progress.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
          {done ? <p data-testid="admin-done">{done}</p> : null}
        </section>
      ) : null}
      <section className="card admin-form" data-testid="admin-connect">
        <h2>Use the new agent</h2>
        <label htmlFor="admin-agent-url">Its address for people (the Ingress or load balancer in front of the Service)</label>
        <input id="admin-agent-url" data-testid="admin-agent-url" value={agentAddress} spellCheck={false} placeholder="https://desktops.example.com" onChange={(e) => setAgentAddress(e.target.value)} />
        <div className="overlay-actions">
          <button
            type="button"
            data-testid="admin-use-agent"
            onClick={() => {
              const url = agentAddress.trim();
              if (!/^https?:\/\/[^\s/]+/.test(url)) {
                setError("The agent's address starts with http:// or https://, for example https://desktops.example.com.");
                return;
              }
              onUseAgent(url);
            }}
          >
            Sign in to it
          </button>
        </div>
      </section>
      <AdminManage admin={admin} target={target} />
    </main>
  );
}
