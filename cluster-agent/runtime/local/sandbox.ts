/**
 * The sandbox each process of a local desktop runs in (bubblewrap). Pure: a profile -> bwrap's
 * arguments. What a sandbox sees is an allow-list: the system's programs and libraries read-only, the
 * directories the runtime binds for this one role, and private /tmp, /dev, /proc. Everything else of
 * the machine (the agent's data dir, other homes, other sessions' sockets, /root, /home) is not there.
 * See docs/local-runtime.md for why bubblewrap, and what each line guarantees.
 */
import { isAbsolute, normalize, sep } from 'node:path';

/** A directory or file of the host, visible at `inside` in the sandbox. */
export interface Bind {
  host: string;
  inside: string;
  writable: boolean;
}

/** How the system directories look on this machine: merged-/usr symlinks or real directories. */
export interface SystemLayout {
  /** top-level names such as bin, lib64 that are symlinks on the host, with their targets */
  symlinks: Array<{ name: string; target: string }>;
  /** system directories bound read-only (e.g. /usr, /etc, /opt) that exist here */
  readOnly: string[];
  /** files and directories under /var that programs read (fontconfig cache, machine-id), if present */
  readOnlyIfPresent: string[];
}

/** Who the programs run as. `root-drop`: the agent is root; bwrap runs privileged and setpriv drops to uid. */
export type SandboxIdentity = { kind: 'userns' } | { kind: 'root-drop'; uid: number; gid: number; setpriv: string };

export interface SandboxProfile {
  identity: SandboxIdentity;
  system: SystemLayout;
  binds: Bind[];
  /** files whose contents are given to the sandbox read-only at `inside` (e.g. a generated /etc/passwd) */
  files: Array<{ host: string; inside: string }>;
  /** host paths that must not be visible even when they lie inside a bound system directory */
  hidden: string[];
  /** extra read-only program directories (outside the system ones), bound at the same path */
  programDirs: string[];
  /** false: a network namespace of its own with only loopback */
  network: boolean;
  hostname: string;
  env: Record<string, string>;
  cwd: string;
  argv: string[];
}

const TMP_SIZE = String(1024 * 1024 * 1024);

/** Pure: is `path` the directory `dir` or inside it? */
export function isWithin(path: string, dir: string): boolean {
  const p = normalize(path);
  const d = normalize(dir).replace(/\/+$/, '') || '/';
  return p === d || p.startsWith(d === '/' ? '/' : d + sep);
}

/** Pure: is the path part of the system tree given to every sandbox (a bound directory or a top-level symlink)? */
function covered(path: string, system: SystemLayout): boolean {
  return system.readOnly.some((dir) => isWithin(path, dir)) || system.symlinks.some((l) => isWithin(path, `/${l.name}`));
}

/** Pure: the directories above the mount points that bwrap would have to create, outermost first. */
function parentsToCreate(destinations: string[], system: SystemLayout): string[] {
  const out: string[] = [];
  for (const dest of destinations) {
    const parts = normalize(dest).split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (dir === '/tmp' || dir === '/dev' || dir === '/proc' || covered(dir, system) || out.includes(dir)) continue;
      out.push(dir);
    }
  }
  return out;
}

/**
 * Pure: bwrap's arguments (after `bwrap`) for one sandboxed process. Order matters to bwrap: the
 * system tree first, then masks over anything hidden inside it, then the role's own binds, last the
 * read-only remount of the root. The command comes apart: bwrap reads options from a file descriptor
 * (--args) but takes the command from its own argv, which is what `ps` shows inside (no host paths).
 */
export function bwrapArgs(profile: SandboxProfile): { options: string[]; command: string[] } {
  for (const p of [...profile.binds.map((b) => b.inside), ...profile.files.map((f) => f.inside), profile.cwd]) {
    if (!isAbsolute(p)) throw new Error(`sandbox paths must be absolute: ${p}`);
  }
  const a: string[] = [];
  a.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try');
  if (!profile.network) a.push('--unshare-net');
  if (profile.identity.kind === 'userns') a.push('--unshare-user', '--disable-userns');
  // A new session: a program inside cannot push keystrokes into the agent's terminal (TIOCSTI).
  a.push('--new-session', '--hostname', profile.hostname);

  for (const dir of profile.system.readOnly) a.push('--ro-bind', dir, dir);
  for (const { name, target } of profile.system.symlinks) a.push('--symlink', target, `/${name}`);
  for (const path of profile.system.readOnlyIfPresent) a.push('--ro-bind-try', path, path);
  a.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/dev/shm');
  a.push('--size', TMP_SIZE, '--perms', '1777', '--tmpfs', '/tmp');
  a.push('--symlink', '../tmp', '/var/tmp');
  // After the tmpfs mounts, which would cover them: extra program dirs (may live under /tmp in tests).
  const programDirs = profile.programDirs.filter((dir) => !covered(dir, profile.system));
  const mounts = [...programDirs, ...profile.files.map((f) => f.inside), ...profile.binds.map((b) => b.inside)];
  // bwrap makes missing parents of mount points 0700 (root's, when it runs as root): make them 0755 first.
  for (const dir of parentsToCreate(mounts, profile.system)) a.push('--perms', '0755', '--dir', dir);
  for (const dir of programDirs) a.push('--ro-bind', dir, dir);
  // Anything secret that happens to live under a bound directory is covered up.
  for (const path of profile.hidden) {
    if (covered(path, profile.system) || programDirs.some((dir) => isWithin(path, dir))) a.push('--tmpfs', path);
  }
  for (const f of profile.files) a.push('--ro-bind', f.host, f.inside);
  for (const b of profile.binds) a.push(b.writable ? '--bind' : '--ro-bind', b.host, b.inside);
  a.push('--remount-ro', '/');

  a.push('--clearenv');
  for (const [k, v] of Object.entries(profile.env)) a.push('--setenv', k, v);
  a.push('--chdir', profile.cwd);
  if (profile.identity.kind === 'root-drop') {
    // bwrap runs as root to set up the mounts; the program itself runs as the person's uid with no capabilities.
    const { uid, gid, setpriv } = profile.identity;
    a.push('--cap-add', 'CAP_SETUID,CAP_SETGID');
    return { options: a, command: [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', ...profile.argv] };
  }
  a.push('--cap-drop', 'ALL');
  return { options: a, command: profile.argv };
}

/** Pure: an /etc/passwd and /etc/group that name only the person (and nobody), so the host's accounts stay hidden. */
export function accountFiles(user: string, uid: number, gid: number, home: string, shell: string): { passwd: string; group: string } {
  return {
    passwd: `${user}:x:${uid}:${gid}:${user}:${home}:${shell}\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `${user}:x:${gid}:\nnogroup:x:65534:\n`,
  };
}
