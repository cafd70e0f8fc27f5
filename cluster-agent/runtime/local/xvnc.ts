/** The Xvnc command line: VNC only on a 0600 Unix socket, VncAuth, X only to cookie holders. */

export const GEOMETRY = { width: 1280, height: 800, depth: 24 };

export interface XvncPaths {
  xvnc: string;
  xauthority: string;
  passwordFile: string;
  vncSocket: string;
}

/** Pure. Parameters are fixed so /proc/PID/cmdline identifies the process later. */
export function xvncArgv(display: number, paths: XvncPaths, desktopName: string): string[] {
  return [
    paths.xvnc,
    `:${display}`,
    '-auth', paths.xauthority,
    '-nolisten', 'tcp', // X clients only via the local socket
    '-noreset', // our readiness probes connect and leave; don't regenerate the server each time
    '-rfbport', '-1', // no VNC over TCP at all...
    '-rfbunixpath', paths.vncSocket, // ...only this socket, reachable by the agent alone
    '-rfbunixmode', '384', // 0600
    '-localhost', // belt and braces, should TCP ever be enabled
    '-SecurityTypes', 'VncAuth',
    '-PasswordFile', paths.passwordFile,
    '-UseBlacklist=0', // only the agent can reach the socket; don't let a bug lock it out
    '-AlwaysShared', // several viewers (launcher + admin) may watch the same desktop
    '-SendCutText=1', '-AcceptCutText=1', '-SendPrimary=1', '-SetPrimary=1', // clipboard sync
    '-geometry', `${GEOMETRY.width}x${GEOMETRY.height}`,
    '-depth', String(GEOMETRY.depth),
    '-dpi', '96',
    '-desktop', desktopName,
  ];
}

/** Pure: does Xvnc's log say it could not have the display (so another number should be tried)? */
export function displayWasTaken(log: string): boolean {
  return /already active for display|Cannot establish any listening sockets|server already running|Could not create server lock file/i.test(log);
}
