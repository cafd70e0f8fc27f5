import { MANAGED_NOTE } from '../logic/policy.js';
import { useEffect, useState } from 'react';
import type { DeviceReport, PortholeApi } from '../../../bridge/contract.js';
import { errorSentence } from '../logic/errors.js';
import { decodeRows, rankCodecs, type DecodeSupport } from '../logic/codecs.js';
import { decodeSupport } from '../session/capabilities.js';

/**
 * "This device": whether video is decoded on the GPU and why not (from the shell), how this page
 * decodes each codec (mediaCapabilities), the order offered to desktops, and the hardware-decode
 * switch where the shell has one (Electron; it applies at the next start).
 */
export function DevicePanel({ api, managed = false }: { api: Pick<PortholeApi, 'deviceReport' | 'setHardwareDecode'>; managed?: boolean }) {
  const [report, setReport] = useState<DeviceReport>();
  const [support, setSupport] = useState<DecodeSupport[]>();
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    let live = true;
    api.deviceReport().then((r) => live && setReport(r), (e: unknown) => live && setError(errorSentence(e)));
    decodeSupport().then((s) => live && setSupport(s), () => undefined);
    return () => {
      live = false;
    };
  }, [api]);

  const toggle = (on: boolean) => {
    setSaving(true);
    setError(undefined);
    api
      .setHardwareDecode(on)
      .then(setReport, (e: unknown) => setError(errorSentence(e)))
      .finally(() => setSaving(false));
  };

  const hw = report?.hardwareDecode;
  return (
    <details className="card device-panel" data-testid="device-panel">
      <summary>This device: video decoding</summary>
      {hw ? (
        <p data-testid="device-verdict" className={hw.active === false ? 'muted' : undefined}>
          {hw.reason}
        </p>
      ) : null}
      {hw?.enabled !== undefined ? (
        <label className="device-toggle">
          <input type="checkbox" data-testid="hardware-decode" checked={hw.enabled} disabled={saving || managed} onChange={(e) => toggle(e.currentTarget.checked)} />
          Decode video in hardware where this machine can
          {managed ? <span className="muted"> ({MANAGED_NOTE})</span> : null}
        </label>
      ) : null}
      {hw?.restartNeeded ? (
        <p role="status" data-testid="device-restart">
          Restart Porthole for this to apply.
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}
      {support ? (
        <>
          <table className="device-codecs" data-testid="device-codecs">
            <thead>
              <tr>
                <th scope="col">codec</th>
                <th scope="col">this page decodes it</th>
              </tr>
            </thead>
            <tbody>
              {decodeRows(support).map((r) => (
                <tr key={r.codec} data-codec={r.codec}>
                  <td>{r.codec}</td>
                  <td>{r.path}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted" data-testid="device-offer">
            Offered to desktops in this order: {rankCodecs(support, hw?.enabled !== false).map((m) => m.replace('video/', '')).join(', ') || 'none (VNC only)'}.
          </p>
        </>
      ) : null}
      {report?.gpus?.length ? <p className="muted">GPU: {report.gpus.join('; ')}</p> : null}
      {report?.gpuFeatures ? (
        <dl className="device-features">
          {Object.entries(report.gpuFeatures).map(([k, v]) => (
            <div key={k} style={{ display: 'contents' }}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </details>
  );
}
