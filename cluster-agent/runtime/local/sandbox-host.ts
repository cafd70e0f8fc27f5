/**
 * What this machine offers the sandbox: where bubblewrap and setpriv are, how the system directories
 * are laid out, and whether a sandbox can really be made (tried once, with the same kind of sandbox
 * the desktops get). When it cannot, the reason is a sentence that says what is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { bwrapArgs, type SandboxIdentity, type SystemLayout } from './sandbox.js';
import { findProgram } from './templates.js';

/** Where desktops find programs, inside the sandbox as outside: the system's own directories only. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const TOP_LEVEL = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
const SYSTEM_DIRS = ['/usr', '/etc', '/opt'];
const READ_IF_PRESENT = ['/var/cache/fontconfig', '/var/lib/dbus/machine-id'];

export function detectSystemLayout(): SystemLayout {
  const layout: SystemLayout = { symlinks: [], readOnly: SYSTEM_DIRS.filter((d) => existsSync(d)), readOnlyIfPresent: READ_IF_PRESENT };
  for (const name of TOP_LEVEL) {
    try {
      const st = lstatSync(`/${name}`);
      if (st.isSymbolicLink()) layout.symlinks.push({ name, target: readlinkSync(`/${name}`) });
      else if (st.isDirectory()) layout.readOnly.push(`/${name}`);
    } catch {
      // not on this machine
    }
  }
  return layout;
}

export type SandboxSupport =
  | { ok: true; bwrap: string; setpriv?: string; layout: SystemLayout }
  | { ok: false; reason: string };

const INSTALL = 'run `sudo apt-get install bubblewrap`';

/** Pure: bwrap's complaint -> what a person can do about it. */
export function explainSandboxFailure(stderr: string, asRoot: boolean): string {
  const said = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? 'no reason given';
  if (/user namespace|No permissions to creat|Operation not permitted|setting up uid map/i.test(said) && !asRoot) {
    return `Local desktops need a sandbox, and this machine does not let the agent's user create user namespaces (bubblewrap said: ${said}). Allow them (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0; on Ubuntu an AppArmor profile for bwrap), run the agent as root, or start it with --unsafe-shared-desktops to run desktops without isolation.`;
  }
  return `Local desktops need a sandbox, and bubblewrap could not make one here (it said: ${said}). Start the agent with --unsafe-shared-desktops to run desktops without isolation.`;
}

/**
 * Finds bubblewrap (and setpriv when root) on the search path and makes one throw-away sandbox of the kind desktops get.
 * Synchronous and about 10 ms: it runs once at start-up.
 */
export function probeSandbox(asRoot: boolean, probeUid: number, searchPath = SYSTEM_PATH): SandboxSupport {
  const bwrap = findProgram('bwrap', searchPath);
  if (!bwrap) return { ok: false, reason: `Local desktops need a sandbox, and bubblewrap is not installed: ${INSTALL} (or start the agent with --unsafe-shared-desktops to run desktops without isolation).` };
  const setpriv = asRoot ? findProgram('setpriv', searchPath) : undefined;
  if (asRoot && !setpriv) return { ok: false, reason: 'Local desktops run as uids of their own when the agent is root, and setpriv is not installed: run `sudo apt-get install util-linux`.' };
  const layout = detectSystemLayout();
  const identity: SandboxIdentity = asRoot ? { kind: 'root-drop', uid: probeUid, gid: probeUid, setpriv: setpriv! } : { kind: 'userns' };
  const { options, command } = bwrapArgs({
    identity,
    system: layout,
    binds: [],
    files: [],
    hidden: [],
    programDirs: [],
    network: false,
    hostname: 'porthole-probe',
    env: { PATH: SYSTEM_PATH },
    cwd: '/',
    argv: ['/bin/sh', '-c', 'test "$(id -u)" != 0'],
  });
  const result = spawnSync(bwrap, [...options, '--', ...command], { encoding: 'utf8', timeout: 10_000, env: {} });
  if (result.status === 0) return { ok: true, bwrap, ...(setpriv ? { setpriv } : {}), layout };
  if (result.error) return { ok: false, reason: explainSandboxFailure(result.error.message, asRoot) };
  return { ok: false, reason: explainSandboxFailure(result.stderr || `exit status ${result.status}`, asRoot) };
}
