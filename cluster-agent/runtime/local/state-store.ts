/**
 * `<dataDir>/local-sessions.json`: every session record and the start statistics, written atomically
 * (temp file + fsync + rename) so a crash never leaves half a file. No secrets in here: the VNC
 * password and X cookie live in 0600 files in the session's run dir.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { Session } from '../../contract/index.js';

const ProcessRefSchema = z.object({ pid: z.number().int().positive(), argv: z.array(z.string()).min(1) });

export const LocalSessionRecord = z.object({
  session: Session.omit({ expectedStartSeconds: true }),
  runDir: z.string(),
  display: z.number().int().nonnegative().optional(),
  xvnc: ProcessRefSchema.optional(),
  desktop: ProcessRefSchema.optional(),
});
export type LocalSessionRecord = z.infer<typeof LocalSessionRecord>;

const StateFile = z.object({
  version: z.literal(1),
  sessions: z.array(LocalSessionRecord),
  startStats: z.record(z.string(), z.object({ average: z.number().nonnegative(), samples: z.number().int().nonnegative() })),
});
export type StateFile = z.infer<typeof StateFile>;

export const emptyState = (): StateFile => ({ version: 1, sessions: [], startStats: {} });

export type LoadResult = { state: StateFile; problem?: string };

/** Missing file = fresh start. A broken file is set aside (renamed), not overwritten silently. */
export function loadState(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    throw error;
  }
  try {
    return { state: StateFile.parse(JSON.parse(text)) };
  } catch (error) {
    const aside = `${file}.broken-${Date.now()}`;
    renameSync(file, aside);
    return { state: emptyState(), problem: `${file} was unreadable (${(error as Error).message.split('\n')[0]}); moved it to ${aside}` };
  }
}

export function saveState(file: string, state: StateFile): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const FINISHED = new Set(['Stopped', 'Failed']);
export const KEEP_FINISHED_MS = 24 * 3600_000;
export const KEEP_FINISHED_MAX = 100;

/** Pure: drop finished sessions older than a day, and all but the newest 100 finished ones. */
export function pruneFinished(records: LocalSessionRecord[], now: number): LocalSessionRecord[] {
  const finished = records
    .filter((r) => FINISHED.has(r.session.phase))
    .sort((a, b) => Date.parse(b.session.phaseSince) - Date.parse(a.session.phaseSince));
  const keep = new Set(finished.filter((r) => now - Date.parse(r.session.phaseSince) < KEEP_FINISHED_MS).slice(0, KEEP_FINISHED_MAX));
  return records.filter((r) => !FINISHED.has(r.session.phase) || keep.has(r));
}
