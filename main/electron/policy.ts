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
}

/**
 * Chromium switches for this machine. Hardware video decoding (VA-API) matters for WebRTC streams;
 * Chromium keeps it off on Linux by default, so turn it on where a render node exists, and let
 * PORTHOLE_HW_DECODE=0 turn it off again for a driver that misbehaves. PORTHOLE_DISABLE_GPU=1 is the
 * escape hatch for thin clients whose GPU stack crashes Chromium (software rendering then).
 */
export function chromiumSwitches(m: MachineFacts): Array<[string, string?]> {
  const switches: Array<[string, string?]> = [];
  if (m.env.PORTHOLE_DISABLE_GPU === '1') {
    switches.push(['disable-gpu']);
    return switches;
  }
  if (m.platform === 'linux' && m.hasRenderNode && m.env.PORTHOLE_HW_DECODE !== '0') {
    // VaapiVideoDecoder for older Chromium builds, AcceleratedVideoDecodeLinuxGL for current ones
    // (Electron 41 / Chromium 146); unknown feature names are ignored by Chromium.
    switches.push(['enable-features', 'VaapiVideoDecoder,AcceleratedVideoDecodeLinuxGL']);
  }
  return switches;
}

export interface LauncherArgs {
  agentUrl?: string;
  kiosk: boolean;
}

/** `--agent=URL` or `--agent URL` pre-fills the agent address; `--kiosk` fills the screen. */
export function parseLauncherArgs(argv: string[]): LauncherArgs {
  const args: LauncherArgs = { kiosk: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--agent=')) args.agentUrl = a.slice('--agent='.length);
    else if (a === '--agent' && argv[i + 1] && !argv[i + 1]!.startsWith('--')) args.agentUrl = argv[++i];
    else if (a === '--kiosk') args.kiosk = true;
  }
  return args;
}
