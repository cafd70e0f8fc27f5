/**
 * The Electron layer's decisions as pure functions (no electron import), so they are unit-tested
 * and reviewed in one place: which origin is ours, what it may navigate to and ask for, which
 * Chromium switches this machine gets, and what the command line means.
 */

/** The renderer is served from app://porthole/ (a standard, secure custom scheme). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'porthole';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/**
 * Copy and paste between the desktop and the machine is the one browser permission a remote
 * desktop needs; everything else (camera, notifications, geolocation, openExternal...) is refused.
 */
const ALLOWED_PERMISSIONS = new Set(['clipboard-read', 'clipboard-sanitized-write']);

export function permissionAllowed(permission: string, requestingUrl: string | undefined): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && !!requestingUrl && isAppUrl(requestingUrl);
}

export interface MachineFacts {
  platform: NodeJS.Platform;
  /** a DRM render node (/dev/dri/renderD*) exists: a GPU that VA-API can decode with */
  hasRenderNode: boolean;
  env: Record<string, string | undefined>;
  /** the person's setting (device.json in the app's data); default on */
  hardwareDecode?: boolean;
}

/**
 * Chromium switches for this machine. Hardware video decoding (VA-API) matters for WebRTC streams;
 * Chromium keeps it off on Linux by default, so turn it on where a render node exists, and let the
 * setting or PORTHOLE_HW_DECODE=0 turn it off again for a driver that misbehaves (elsewhere Chromium
 * decodes in hardware by itself; the setting turns that off). PORTHOLE_DISABLE_GPU=1 is the escape
 * hatch for thin clients whose GPU stack crashes Chromium (software rendering then).
 */
export function chromiumSwitches(m: MachineFacts): Array<[string, string?]> {
  const switches: Array<[string, string?]> = [];
  if (m.env.PORTHOLE_DISABLE_GPU === '1') {
    switches.push(['disable-gpu']);
    return switches;
  }
  if (!hardwareDecodeWanted(m)) {
    switches.push(['disable-accelerated-video-decode']);
    return switches;
  }
  if (m.platform === 'linux' && m.hasRenderNode) {
    // VaapiVideoDecoder for older Chromium builds, AcceleratedVideoDecodeLinuxGL for current ones
    // (Electron 41 / Chromium 146); unknown feature names are ignored by Chromium.
    switches.push(['enable-features', 'VaapiVideoDecoder,AcceleratedVideoDecodeLinuxGL']);
  }
  return switches;
}

function hardwareDecodeWanted(m: MachineFacts): boolean {
  return m.hardwareDecode !== false && m.env.PORTHOLE_HW_DECODE !== '0';
}

/**
 * Whether video is decoded on the GPU in this run, and why not, from what the app started with and
 * what Chromium's GPU process reports (app.getGPUFeatureStatus().video_decode: 'enabled',
 * 'enabled_on', 'disabled_software', 'unavailable_software', ...). One sentence for the person.
 */
export function hardwareDecodeVerdict(started: MachineFacts, features: Record<string, string> | undefined): { active: boolean; reason: string } {
  if (started.env.PORTHOLE_DISABLE_GPU === '1') return { active: false, reason: 'The GPU is turned off for this app (PORTHOLE_DISABLE_GPU=1): video is decoded in software.' };
  if (started.hardwareDecode === false) return { active: false, reason: "Hardware decoding is turned off in this app's settings: video is decoded in software." };
  if (started.env.PORTHOLE_HW_DECODE === '0') return { active: false, reason: 'Hardware decoding is turned off by PORTHOLE_HW_DECODE=0: video is decoded in software.' };
  if (started.platform === 'linux' && !started.hasRenderNode) return { active: false, reason: 'This machine has no GPU render node (/dev/dri/renderD*), so there is nothing to decode with: video is decoded in software.' };
  const status = features?.video_decode;
  if (!status) return { active: false, reason: "Chromium's GPU process has not said whether it decodes video; open a desktop and see the stats overlay's decoder." };
  if (status.startsWith('enabled')) return { active: true, reason: `Chromium decodes video on the GPU (video_decode: ${status}); the stats overlay shows which decoder a stream uses.` };
  if (status.startsWith('unavailable')) return { active: false, reason: `GPU acceleration is unavailable here (video_decode: ${status}): Chromium runs in software, usually because the GPU driver did not start.` };
  return { active: false, reason: `Chromium does not decode video on this GPU (video_decode: ${status}): its driver is on Chromium's blocklist or has no VA-API support for it.` };
}

/** The saved device settings; anything unreadable means the defaults (and is not overwritten until changed). */
export function parseDeviceSettings(text: string | undefined): { hardwareDecode: boolean } {
  if (!text) return { hardwareDecode: true };
  try {
    const v = JSON.parse(text) as { hardwareDecode?: unknown };
    return { hardwareDecode: v?.hardwareDecode !== false };
  } catch {
    return { hardwareDecode: true };
  }
}

export interface LauncherArgs {
  agentUrl?: string;
  kiosk: boolean;
  /** print the effective policy and exit */
  showPolicy: boolean;
  /** open the admin screen (only where the policy allows admin mode) */
  admin: boolean;
}

/**
 * `--agent=URL` or `--agent URL` pre-fills the agent address; `--kiosk` fills the screen (the policy's
 * kiosk.enabled does too, and then cannot be turned off); `--show-policy`; `--admin`.
 */
export function parseLauncherArgs(argv: string[]): LauncherArgs {
  const args: LauncherArgs = { kiosk: false, showPolicy: false, admin: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--agent=')) args.agentUrl = a.slice('--agent='.length);
    else if (a === '--agent' && argv[i + 1] && !argv[i + 1]!.startsWith('--')) args.agentUrl = argv[++i];
    else if (a === '--kiosk') args.kiosk = true;
    else if (a === '--show-policy') args.showPolicy = true;
    else if (a === '--admin') args.admin = true;
  }
  return args;
}

/** The launcher window's shape: a kiosk is one full-screen window that cannot be left, without menu or devtools. */
export function windowSettings(kiosk: boolean, packaged: boolean): { kiosk: boolean; fullscreen: boolean; closable: boolean; minimizable: boolean; menu: boolean; devTools: boolean } {
  return kiosk
    ? { kiosk: true, fullscreen: true, closable: false, minimizable: false, menu: false, devTools: false }
    : { kiosk: false, fullscreen: false, closable: true, minimizable: true, menu: false, devTools: !packaged };
}

export interface KeyInput {
  type: string;
  key: string;
  control: boolean;
  alt: boolean;
  meta: boolean;
  shift: boolean;
}

/**
 * On a kiosk, the keys that would leave, reload, inspect or navigate the window are swallowed before
 * the page sees them (Electron's before-input-event); everything else reaches the desktop. What the
 * operating system keeps for itself (Ctrl+Alt+Del, VT switches) never reaches an app: the kiosk
 * session's window manager owns those.
 */
export function kioskSwallows(input: KeyInput): boolean {
  if (input.type !== 'keyDown') return false;
  const key = input.key.length === 1 ? input.key.toLowerCase() : input.key;
  const ctrl = input.control || input.meta;
  if (input.alt && (key === 'F4' || key === 'ArrowLeft' || key === 'ArrowRight' || key === 'Home')) return true;
  if (['F5', 'F11', 'F12', 'BrowserBack', 'BrowserForward', 'BrowserRefresh', 'BrowserHome'].includes(key)) return true;
  if (ctrl && ['w', 'q', 'r', 'n', 't', 'p', 's', 'o', 'l', 'h', 'j', 'u', '+', '-', '=', '0'].includes(key)) return true;
  if (ctrl && input.shift && ['i', 'j', 'c', 'delete', 'Delete'].includes(key)) return true;
  return false;
}
