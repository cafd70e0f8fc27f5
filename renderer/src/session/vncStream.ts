/** Opens a noVNC RFB stream in a container and maps its events onto the stream controller's. */
import RFB from '@novnc/novnc';
import type { OpenStream, StreamHandlers } from './streamController.js';

export interface VncHooks {
  onRfb(rfb: RFB | undefined): void;
  onClipboard(text: string): void;
}

export function openVnc(container: HTMLElement, url: string, handlers: StreamHandlers, hooks: VncHooks): OpenStream {
  // The agent authenticates the VNC server itself and offers security type None: no credentials here.
  const rfb = new RFB(container, url, { shared: true });
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.background = 'transparent';
  let securityProblem: string | undefined;
  let closedByUs = false;
  // Keyboard focus is given by the view once the screen is visible (hidden elements cannot take it).
  rfb.addEventListener('connect', () => handlers.onConnect());
  rfb.addEventListener('securityfailure', (event) => {
    securityProblem = `The desktop refused the connection${event.detail.reason ? `: ${event.detail.reason}` : ''}.`;
  });
  rfb.addEventListener('credentialsrequired', () => {
    // Should not happen (the agent offers None); treat as a broken stream rather than ask the person.
    securityProblem = 'The desktop asked for a password the launcher does not have. Ask your administrator to check the agent.';
    rfb.disconnect();
  });
  rfb.addEventListener('clipboard', (event) => hooks.onClipboard(event.detail.text));
  rfb.addEventListener('disconnect', (event) => {
    hooks.onRfb(undefined);
    if (closedByUs) return;
    handlers.onDisconnect(securityProblem ?? (event.detail.clean ? 'The desktop closed the connection.' : 'The connection to the desktop was interrupted.'));
  });
  hooks.onRfb(rfb);
  return {
    close() {
      closedByUs = true;
      hooks.onRfb(undefined);
      try {
        rfb.disconnect();
      } catch {
        // already closed
      }
    },
  };
}
