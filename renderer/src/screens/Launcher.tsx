import type { Me } from '../../../cluster-agent/contract/index.js';
import type { EffectivePolicy, PortholeApi } from '../../../bridge/contract.js';
import { DevicePanel } from '../components/DevicePanel.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { useNow } from '../hooks/useNow.js';
import { elapsedSince, expectedStartHint, formatElapsed } from '../logic/format.js';
import { sessionRows, templateItems, templateTitle, type TemplateItem, type TrackedSession } from '../logic/launcherItems.js';
import { isActive } from '../logic/phase.js';

export interface LauncherActions {
  /** start-or-get the template's session and open it */
  start(template: string): void;
  open(sessionId: string): void;
  stop(sessionId: string): void;
  /** clear a failed session and start its template afresh */
  startAgain(failedId: string, template: string): void;
  signOut(): void;
}

export function Launcher({ me, sessions, busy, error, actions, device, policy }: {
  me?: Me;
  sessions: ReadonlyMap<string, TrackedSession>;
  /** what is in flight: a template name or session id, to disable just that button */
  busy: ReadonlySet<string>;
  error?: string;
  actions: LauncherActions;
  /** the bridge's device methods, for the "This device" panel */
  device: Pick<PortholeApi, 'deviceReport' | 'setHardwareDecode'>;
  /** the device's policy (a managed hardware-decode setting cannot be switched) */
  policy?: EffectivePolicy;
}) {
  const rows = sessionRows(sessions);
  const ticking = rows.some((t) => t.session.phase === 'Pending' || t.session.phase === 'Starting');
  const now = useNow(ticking);
  const templates = me?.templates ?? [];
  return (
    <main className="launcher">
      <header className="launcher-header">
        <h1>Porthole</h1>
        <div className="who">
          {me ? <span>Signed in as <strong>{me.user.name}</strong></span> : null}
          <button type="button" data-testid="sign-out" onClick={actions.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <ErrorMessage message={error} />

      <section aria-labelledby="desktops-heading">
        <h2 id="desktops-heading">Desktops</h2>
        {!me ? <p className="muted">Loading your desktops…</p> : null}
        {me && templates.length === 0 ? (
          <p className="muted">No desktops are set up for you yet. Ask your administrator to give you access to one.</p>
        ) : null}
        <ul className="template-grid">
          {templateItems(templates, sessions).map((item) => (
            <TemplateCard key={item.template.name} item={item} busy={busy.has(item.template.name)} now={now} actions={actions} />
          ))}
        </ul>
      </section>

      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Your sessions</h2>
        {rows.length === 0 ? <p className="muted">No desktops are running.</p> : null}
        <ul className="session-list">
          {rows.map((tracked) => (
            <SessionRow
              key={tracked.session.id}
              tracked={tracked}
              title={templateTitle(templates, tracked.session.template)}
              busy={busy.has(tracked.session.id)}
              now={now}
              actions={actions}
            />
          ))}
        </ul>
      </section>

      <DevicePanel api={device} managed={policy?.hardwareDecode.source === 'policy'} />
    </main>
  );
}

function TemplateCard({ item, busy, now, actions }: { item: TemplateItem; busy: boolean; now: number; actions: LauncherActions }) {
  const { template, active, action } = item;
  const unavailable = action === 'unavailable';
  const reasonId = `reason-${template.name}`;
  const label = busy ? 'Opening…' : action === 'resume' ? 'Resume' : 'Start';
  return (
    <li className={`card template-card${unavailable ? ' unavailable' : ''}`}>
      <div className="template-text">
        <h3>{template.displayName}</h3>
        {template.description ? <p className="muted">{template.description}</p> : null}
        {unavailable ? (
          <p className="unavailable-reason" id={reasonId}>
            {template.unavailableReason ?? 'This desktop cannot start here right now.'}
          </p>
        ) : null}
        {!unavailable && template.warning ? (
          <p className="template-warning" role="note" id={reasonId} data-testid={`warning-${template.name}`}>
            {template.warning}
          </p>
        ) : null}
        {active ? (
          <p className="template-state">
            <PhaseBadge phase={active.session.phase} />
            {active.session.phase !== 'Running' ? (
              <span className="muted"> {formatElapsed(elapsedSince(active.elapsedMs, active.receivedAt, now))}</span>
            ) : null}
          </p>
        ) : null}
      </div>
      <button
        type="button"
        className={action === 'resume' ? 'primary' : ''}
        data-testid={`template-${template.name}`}
        disabled={unavailable || busy}
        aria-describedby={unavailable || template.warning ? reasonId : undefined}
        aria-label={`${action === 'resume' ? 'Resume' : 'Start'} ${template.displayName}`}
        onClick={() => actions.start(template.name)}
      >
        {unavailable ? 'Unavailable' : label}
      </button>
    </li>
  );
}

function SessionRow({ tracked, title, busy, now, actions }: {
  tracked: TrackedSession;
  title: string;
  busy: boolean;
  now: number;
  actions: LauncherActions;
}) {
  const { session } = tracked;
  const starting = session.phase === 'Pending' || session.phase === 'Starting';
  const usual = starting ? expectedStartHint(session.expectedStartSeconds) : undefined;
  return (
    <li className="session-row" data-testid={`session-${session.id}`}>
      <div className="session-text">
        <span className="session-title">{title}</span>
        <PhaseBadge phase={session.phase} />
        {starting ? (
          <span className="muted">
            {' '}
            {formatElapsed(elapsedSince(tracked.elapsedMs, tracked.receivedAt, now))}
            {usual ? ` · ${usual}` : ''}
          </span>
        ) : null}
        {session.message ? (
          <p className={session.phase === 'Failed' ? 'session-failure' : 'muted'}>{session.message}</p>
        ) : null}
      </div>
      <div className="session-actions">
        {isActive(session.phase) ? (
          <button type="button" className="primary" data-testid={`open-${session.id}`} disabled={busy} onClick={() => actions.open(session.id)}>
            {session.phase === 'Running' ? 'Open' : 'Watch start'}
          </button>
        ) : null}
        {session.phase === 'Failed' ? (
          <button type="button" className="primary" data-testid={`restart-${session.id}`} disabled={busy} onClick={() => actions.startAgain(session.id, session.template)}>
            Start again
          </button>
        ) : null}
        {session.phase !== 'Stopping' ? (
          <button
            type="button"
            data-testid={`stop-${session.id}`}
            disabled={busy}
            aria-label={`${session.phase === 'Failed' ? 'Dismiss' : 'Stop'} ${title}`}
            onClick={() => actions.stop(session.id)}
          >
            {session.phase === 'Failed' ? 'Dismiss' : 'Stop'}
          </button>
        ) : null}
      </div>
    </li>
  );
}
