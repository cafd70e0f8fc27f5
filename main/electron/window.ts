/**
 * The one launcher window and the guards on every web contents: isolated, sandboxed, no Node,
 * no navigation away from app://porthole, no new windows, no webviews, no downloads, and only the
 * clipboard permissions for our own page.
 */
import { app, BrowserWindow, session, shell, type WebContents } from 'electron';
import { join } from 'node:path';
import { RENDERER_CSP } from '../core/renderer-policy.js';
import { APP_ENTRY, isAppUrl, kioskSwallows, permissionAllowed, windowSettings } from './policy.js';

export function hardenSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, permission, callback, details) => callback(permissionAllowed(permission, details.requestingUrl)));
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => permissionAllowed(permission, requestingOrigin));
  ses.setDevicePermissionHandler(() => false);
  ses.on('will-download', (event) => event.preventDefault());
  // The app:// handler sets the policy already; this also covers anything else the page loads.
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
}

/** `openExternally`: the one URL the core asked to show in the system browser (a company sign-in), if any. */
export function guardWebContents(contents: WebContents, openExternally: (url: string) => boolean = () => false): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // No window of ours ever opens; a company sign-in goes to the system browser (RFC 8252), nothing else does.
  contents.setWindowOpenHandler(({ url }) => {
    if (openExternally(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
}

export function createLauncherWindow(opts: { preloadDir: string; kiosk: boolean }): BrowserWindow {
  const shape = windowSettings(opts.kiosk, app.isPackaged);
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    show: false,
    kiosk: shape.kiosk,
    fullscreen: shape.fullscreen,
    closable: shape.closable,
    minimizable: shape.minimizable,
    backgroundColor: '#111318',
    title: 'Porthole',
    autoHideMenuBar: true,
    webPreferences: {
      preload: join(opts.preloadDir, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      // Middle-click would otherwise open links in new windows past will-navigate.
      disableBlinkFeatures: 'Auxclick',
      devTools: shape.devTools,
    },
  });
  if (!shape.menu) win.removeMenu();
  if (opts.kiosk) {
    win.webContents.on('before-input-event', (event, input) => {
      if (kioskSwallows(input)) event.preventDefault();
    });
  }
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_ENTRY);
  return win;
}
