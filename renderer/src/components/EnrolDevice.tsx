import { useEffect, useId, useState } from 'react';
import type { PortholeApi } from '../../../bridge/contract.js';
import { errorSentence } from '../logic/errors.js';

/**
 * On the sign-in screen: whether this device is enrolled at the agent (a kiosk), and where it is not,
 * a field for the one-time code an administrator made with `porthole-agent devices enroll`.
 */
export function EnrolDevice({ api, agentUrl, open }: { api: Pick<PortholeApi, 'deviceEnrollment' | 'enrollDevice'>; agentUrl: string; open: boolean }) {
  const id = useId();
  const [enrolled, setEnrolled] = useState<{ url: string; device: { id: string; name: string } | null }>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const looksLikeAgent = /^https?:\/\/[^/\s]+/.test(agentUrl);

  useEffect(() => {
    if (!looksLikeAgent) return;
    let stale = false;
    api.deviceEnrollment(agentUrl).then(
      (device) => !stale && setEnrolled({ url: agentUrl, device }),
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [api, agentUrl, looksLikeAgent]);

  if (!looksLikeAgent || enrolled?.url !== agentUrl) return null;
  if (enrolled.device) {
    return (
      <p className="muted" data-testid="device-enrolled">
        This device is enrolled as “{enrolled.device.name}”.
      </p>
    );
  }
  const enrol = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const device = await api.enrollDevice(agentUrl, code.trim());
      setEnrolled({ url: agentUrl, device });
      setCode('');
    } catch (caught) {
      setError(errorSentence(caught, 'The device could not be enrolled. Please try again.'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="enrol-device" data-testid="enrol-device" open={open}>
      <summary>Enrol this device</summary>
      <label htmlFor={id}>Enrolment code from your administrator</label>
      <input id={id} data-testid="enrol-code" autoCapitalize="characters" spellCheck={false} placeholder="ABCD-EFGH-JKLM" value={code} onChange={(e) => setCode(e.target.value)} disabled={busy} />
      <button type="button" data-testid="enrol" onClick={() => void enrol()} disabled={busy || !code.trim()}>
        {busy ? 'Enrolling…' : 'Enrol'}
      </button>
      {error ? (
        <p role="alert" className="error" data-testid="enrol-error">
          {error}
        </p>
      ) : null}
    </details>
  );
}
