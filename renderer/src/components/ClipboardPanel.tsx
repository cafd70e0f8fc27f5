import { useId } from 'react';

/**
 * Fallback for when the browser will not let Porthole touch the real clipboard: text from the
 * desktop shows up here, and text pasted here can be sent to the desktop.
 */
export function ClipboardPanel({ text, note, canSend, onChange, onSend, onClose }: {
  text: string;
  note?: string;
  canSend: boolean;
  onChange(text: string): void;
  onSend(text: string): void;
  onClose(): void;
}) {
  const id = useId();
  return (
    <aside className="clipboard-panel" id="clipboard-panel" aria-label="Clipboard">
      <label htmlFor={id}>Clipboard</label>
      <textarea
        id={id}
        data-testid="clipboard-text"
        value={text}
        rows={6}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onClose();
        }}
      />
      <p className="muted">{note ?? 'Paste text here to send it to the desktop. Text copied on the desktop appears here too.'}</p>
      <div className="overlay-actions">
        <button type="button" className="primary" disabled={!canSend || !text} onClick={() => onSend(text)}>
          Send to desktop
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </aside>
  );
}
