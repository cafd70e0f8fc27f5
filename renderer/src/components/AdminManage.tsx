import { useState } from 'react';
import type { AdminApi, AdminTarget } from '../../../bridge/contract.js';
import { errorSentence } from '../logic/errors.js';

type Loaded = {
  agent?: { image: string; replicas: number; available: number };
  templates: Array<{ name: string; spec: Record<string, unknown> }>;
  sessions: Array<{ name: string; user: string; template: string; phase: string }>;
};

/** Admin mode, once installed: the agent, its Templates (a form the API server checks), every user's sessions. */
export function AdminManage({ admin, target }: { admin: AdminApi; target: () => AdminTarget }) {
  const [loaded, setLoaded] = useState<Loaded>();
  const [error, setError] = useState<string>();
  const [name, setName] = useState('');
  const [spec, setSpec] = useState('{\n  "displayName": "",\n  "description": "",\n  "image": ""\n}');
  const [formError, setFormError] = useState<string>();
  const [saved, setSaved] = useState<string>();

  const load = async () => {
    setError(undefined);
    try {
      const t = target();
      const [agent, templates, sessions] = await Promise.all([admin.adminAgent(t).catch(() => undefined), admin.adminTemplates(t), admin.adminSessions(t)]);
      setLoaded({ ...(agent ? { agent } : {}), templates, sessions });
    } catch (caught) {
      setError(errorSentence(caught, 'The cluster could not be read.'));
    }
  };
  const act = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
      await load();
    } catch (caught) {
      setError(errorSentence(caught, 'That did not work. Please try again.'));
    }
  };
  const save = async () => {
    setFormError(undefined);
    setSaved(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(spec);
    } catch (caught) {
      setFormError(`The spec is not valid JSON (${(caught as Error).message}).`);
      return;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      setFormError('The spec must be a JSON object, the Template\u2019s spec.');
      return;
    }
    try {
      // The API server checks it against the Template CRD's schema first; only then is it stored.
      await admin.adminSaveTemplate(target(), { name: name.trim(), spec: parsed as Record<string, unknown>, dryRun: true });
      await admin.adminSaveTemplate(target(), { name: name.trim(), spec: parsed as Record<string, unknown>, dryRun: false });
      setSaved(`Saved the Template "${name.trim()}".`);
      await load();
    } catch (caught) {
      setFormError(errorSentence(caught, 'The Template could not be saved.'));
    }
  };

  return (
    <section className="card" data-testid="admin-manage">
      <h2>Manage</h2>
      <button type="button" data-testid="admin-manage-load" onClick={() => void load()}>
        {loaded ? 'Refresh' : 'Show the agent, templates and sessions'}
      </button>
      {error ? (
        <p role="alert" className="error" data-testid="admin-manage-error">
          {error}
        </p>
      ) : null}
      {loaded ? (
        <>
          <p data-testid="admin-agent">
            {loaded.agent ? `Agent ${loaded.agent.image}: ${loaded.agent.available} of ${loaded.agent.replicas} replicas available.` : 'No agent is installed in this namespace.'}
          </p>
          <h3>Templates</h3>
          <ul>
            {loaded.templates.map((t) => (
              <li key={t.name} data-testid="admin-template-row" data-name={t.name}>
                {t.name} {typeof t.spec.displayName === 'string' ? `(${t.spec.displayName})` : ''}{' '}
                <button type="button" className="link-button" onClick={() => {
                    setName(t.name);
                    setSpec(JSON.stringify(t.spec, null, 2));
                  }}>
                  Edit
                </button>{' '}
                <button type="button" className="link-button" data-testid={`admin-template-delete-${t.name}`} onClick={() => void act(() => admin.adminDeleteTemplate(target(), t.name))}>
                  Delete
                </button>
              </li>
            ))}
          </ul>
          <label htmlFor="admin-template-name">Template name</label>
          <input id="admin-template-name" data-testid="admin-template-name" value={name} spellCheck={false} onChange={(e) => setName(e.target.value)} />
          <label htmlFor="admin-template-spec">Spec (JSON, as in the Template CRD)</label>
          <textarea id="admin-template-spec" data-testid="admin-template-spec" rows={8} spellCheck={false} value={spec} onChange={(e) => setSpec(e.target.value)} />
          <button type="button" className="primary" data-testid="admin-template-save" disabled={!name.trim()} onClick={() => void save()}>
            Save template
          </button>
          {formError ? (
            <p role="alert" className="error" data-testid="admin-template-error">
              {formError}
            </p>
          ) : null}
          {saved ? (
            <p role="status" data-testid="admin-template-saved">
              {saved}
            </p>
          ) : null}
          <h3>Sessions</h3>
          {loaded.sessions.length === 0 ? <p className="muted">Nobody has a desktop running.</p> : null}
          <ul>
            {loaded.sessions.map((s) => (
              <li key={s.name} data-testid="admin-session-row" data-name={s.name}>
                {s.user}: {s.template} ({s.phase}){' '}
                <button type="button" className="link-button" data-testid={`admin-session-stop-${s.name}`} onClick={() => void act(() => admin.adminStopSession(target(), s.name))}>
                  Stop
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
