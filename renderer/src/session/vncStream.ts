/** The VNC stream: noVNC's RFB in a container, its events mapped onto the stream controller's. */
import RFB from '@novnc/novnc';
import type { DesktopStream, StreamHooks, StreamStats } from './stream.js';
import type { StreamHandlers } from './streamController.js';

export function openVnc(container: HTMLElement, url: string, handlers: StreamHandlers, hooks: StreamHooks): DesktopStream {
  // The agent authenticates the VNC server itself and offers security type None: no credentials here.
  const rfb = new RFB(container, url, { shared: true });
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.background = 'transparent';
  let securityProblem: string | undefined;
  let closedByUs = false;
  // Keyboard focus is given by the view once the screen is visible (hidden elements cannot take it).
  rfb.addEventListener('connect', () => {
    hooks.onSound?.({ available: false, on: false, message: 'Sound comes with WebRTC: this stream is VNC.' });
    handlers.onConnect();
  });
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
    if (closedByUs) return;
    handlers.onDisconnect(securityProblem ?? (event.detail.clean ? 'The desktop closed the connection.' : 'The connection to the desktop was interrupted.'));
  });
  return {
    protocol: 'vnc',
    focus: () => rfb.focus(),
    sendKeys(keysyms) {
      for (const k of keysyms) rfb.sendKey(k, null, true);
      for (const k of [...keysyms].reverse()) rfb.sendKey(k, null, false);
    },
    sendClipboard: (text) => rfb.clipboardPasteFrom(text),
    // noVNC asks Xvnc itself (RFB SetDesktopSize) and follows the container's size.
    fitToWindow: (on) => void (rfb.resizeSession = on),
    setSound: () => undefined,
    async stats(): Promise<StreamStats> {
      const canvas = container.querySelector('canvas');
      return { protocol: 'vnc', codec: 'RFB (through the agent)', ...(canvas ? { width: canvas.width, height: canvas.height } : {}) };
    },
    close() {
      closedByUs = true;
      try {
        rfb.disconnect();
      } catch {
        // already closed
      }
    },
  };
}
