/**
 * Where a session's files are, on the host and inside its sandboxes, and who owns them. One run dir
 * per session; inside it one directory per purpose, so each sandbox is given exactly what its role
 * needs: the display its VNC secret and socket, the desktop its home, its script and the X socket.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from './dirs.js';

/** Paths the programs see: inside a sandbox (fixed) or, for shared desktops, the host paths themselves. */
export interface InsidePaths {
  displayDir: string;
  vncDir: string;
  x11Dir: string;
  desktopDir: string;
  statusDir: string;
  streamerDir: string;
  audioDir: string;
  home: string;
}

export interface SessionLayout {
  /** the run dir: the agent's files (VNC password, logs, sandbox arguments) */
  run: string;
  home: string;
  /** the display's configuration: vnc.passwd, Xauthority (display sandbox, read-only) */
  displayDir: string;
  /** the VNC socket (display sandbox, writable); never given to the desktop */
  vncDir: string;
  /** the X socket (display writes it, desktop reads it); shared desktops use /tmp/.X11-unix */
  x11Dir: string;
  /** what the desktop runs with: desktop.sh, Xauthority, passwd, group (read-only for it) */
  desktopDir: string;
  /** where the desktop reports (desktop.exit, wm-ready): its PORTHOLE_RUN_DIR */
  statusDir: string;
  /** the programs' XDG_RUNTIME_DIR on the host */
  runtimeDir: string;
  /** the streamer's: its X cookie, the session's streamer secret, its signalling socket (streamer sandbox, writable) */
  streamerDir: string;
  streamerSocket: string;
  streamerSecret: string;
  /** the sound server's: its socket, state and runtime files (audio sandbox, writable; desktop and streamer read-only) */
  audioDir: string;
  audioLog: string;
  password: string;
  xvncLog: string;
  desktopLog: string;
  vncSocket: string;
  /** the X socket of display :N as the agent reaches it */
  x11Socket: (display: number) => string;
  desktopExit: string;
  inside: InsidePaths;
}

export const SANDBOX_DISPLAY = 0;

export function sessionLayout(run: string, home: string, user: string, sandboxed: boolean): SessionLayout {
  const host = {
    displayDir: join(run, 'display'),
    vncDir: join(run, 'vnc'),
    x11Dir: sandboxed ? join(run, 'x11') : '/tmp/.X11-unix',
    desktopDir: join(run, 'desktop'),
    statusDir: join(run, 'status'),
    runtimeDir: join(run, 'xdg'),
    streamerDir: join(run, 'streamer'),
    audioDir: join(run, 'audio'),
    home,
  };
  const inside: InsidePaths = sandboxed
    ? {
        displayDir: '/run/porthole/display',
        vncDir: '/run/porthole/vnc',
        x11Dir: '/tmp/.X11-unix',
        desktopDir: '/run/porthole/desktop',
        statusDir: '/run/porthole/status',
        streamerDir: '/run/porthole/streamer',
        audioDir: '/run/porthole/audio',
        home: `/home/${user}`,
      }
    : host;
  return {
    run,
    ...host,
    password: join(run, 'vnc.password'),
    xvncLog: join(run, 'xvnc.log'),
    desktopLog: join(run, 'desktop.log'),
    vncSocket: join(host.vncDir, 'vnc.sock'),
    x11Socket: (display) => join(host.x11Dir, `X${display}`),
    desktopExit: join(host.statusDir, 'desktop.exit'),
    streamerSocket: join(host.streamerDir, 'signal.sock'),
    streamerSecret: join(host.streamerDir, 'secret'),
    audioLog: join(run, 'audio.log'),
    inside,
  };
}

/** Owner of what the desktop's programs read or write; undefined = the agent's own uid. */
export type Owner = { uid: number; gid: number } | undefined;

/** Creates the run dir (the agent's, 0700) and the per-purpose directories, owned by the desktop's uid. */
export function prepareRunDir(layout: SessionLayout, owner: Owner, sandboxed: boolean): void {
  ensureDir(layout.run);
  const dirs = [layout.displayDir, layout.vncDir, layout.desktopDir, layout.statusDir, layout.runtimeDir, layout.streamerDir, layout.audioDir, ...(sandboxed ? [layout.x11Dir] : [])];
  for (const dir of dirs) {
    mkdirSync(dir, { mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  }
}

/** A file the desktop's programs must read: 0600, owned by their uid. */
export function writeOwnedFile(path: string, content: string | Buffer, owner: Owner, mode = 0o600): void {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  if (owner) chownSync(path, owner.uid, owner.gid);
}
