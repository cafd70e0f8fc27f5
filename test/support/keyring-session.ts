/**
 * A program in a D-Bus session of its own with gnome-keyring's Secret Service unlocked and a HOME of its
 * own, as a person's desktop session gives the launcher: `dbus-run-session`, the keyring unlocked with
 * a password on stdin, then the program exec'd (so the PID it prints is the program's). Stopped by that
 * PID; dbus-run-session then ends its bus, and the keyring daemon goes with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { repoRoot } from './processes.js';

export interface KeyringStarted {
  /** dbus-run-session */
  session: ChildProcess;
  /** the program's own PID */
  pid: number;
  match: RegExpMatchArray;
  output: string[];
  stop(): Promise<void>;
}

const SCRIPT = 'echo -n keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && echo "keyring-session pid $$" && exec "$@"';

export function startInKeyringSession(home: string, argv: string[], ready: RegExp, timeoutMs = 30_000, env: Record<string, string> = {}): Promise<KeyringStarted> {
  const session = spawn('dbus-run-session', ['--', 'sh', '-c', SCRIPT, 'sh', ...argv], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let pid: number | undefined;
  const exited = new Promise<void>((ok) => session.once('exit', () => ok()));
  const stop = async () => {
    if (session.exitCode !== null || session.signalCode !== null) return;
    if (pid) process.kill(pid, 'SIGTERM');
    else session.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (pid) process.kill(pid, 'SIGKILL');
      session.kill('SIGKILL');
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      void stop();
      fail(new Error(`${argv.join(' ')} not ready after ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: session.stdout! }).on('line', (line) => {
      output.push(line);
      const inner = /^keyring-session pid (\d+)$/.exec(line);
      if (inner) pid = Number(inner[1]);
      const match = line.match(ready);
      if (match && pid) {
        clearTimeout(timer);
        ok({ session, pid, match, output, stop });
      }
    });
    createInterface({ input: session.stderr! }).on('line', (line) => output.push(line));
    session.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${argv.join(' ')} exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
  });
}
