import type { EffectivePolicy } from '../../../bridge/contract.js';

const LABELS: Array<[keyof Omit<EffectivePolicy, 'file'>, string]> = [
  ['agentUrl', 'Agent'],
  ['kiosk', 'Kiosk mode'],
  ['autoStartTemplate', 'Desktop started at sign-in'],
  ['idleSignOutSeconds', 'Sign out after no use'],
  ['signInMethods', 'Sign-in methods'],
  ['protocols', 'Streaming protocols'],
  ['hardwareDecode', 'Hardware video decoding'],
  ['clipboard', 'Clipboard'],
  ['admin', 'Admin mode'],
];

function shown(key: string, value: unknown): string {
  if (value === null) return 'not set';
  if (key === 'idleSignOutSeconds' && typeof value === 'number') return value % 60 === 0 ? `${value / 60} min` : `${value} s`;
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** What the device's policy fixes, and what it leaves to the person (as Chrome's chrome://policy). */
export function PolicyPanel({ policy }: { policy: EffectivePolicy }) {
  if (!policy.file) return null;
  return (
    <details className="card device-panel" data-testid="policy-panel">
      <summary>Managed by your organisation</summary>
      <p className="muted">From {policy.file}. Managed settings cannot be changed here.</p>
      <table className="policy-table">
        <tbody>
          {LABELS.map(([key, label]) => (
            <tr key={key} data-testid={`policy-${key}`} data-source={policy[key].source}>
              <th scope="row">{label}</th>
              <td>{shown(key, policy[key].value)}</td>
              <td className="muted">{policy[key].source === 'policy' ? 'managed' : policy[key].source === 'flag' ? 'command line' : 'default'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
