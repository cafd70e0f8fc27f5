/**
 * `<dataDir>/local-sessions.json`: every session record and the start statistics, written atomically
 * (temp file + fsync + rename) so a crash never leaves half a file. No secrets in here: the VNC
 * password and X cookie live in 0600 files in the session's run dir.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { Session } from '../../contract/index.js';

const ProcessRefSchema = z.object({
  pid: z.number().int().positive(),
  argv: z.array(z.string()).min(1),
  startTime: z.number().int().nonnegative().optional(),
  pidNs: z.string().optional(),
});

/** The processes of a desktop, by what they do; a desktop is all of them. */
export const ROLES = ['display', 'desktop', 'streamer', 'audio'] as const;
export type Role = (typeof ROLES)[number];

export const LocalSessionRecord = z.object({
  session: Session.omit({ expectedStartSeconds: true }),
  runDir: z.string(),
  /** sandbox: each role in a bubblewrap sandbox; shared: plain processes of the agent's user (--unsafe-shared-desktops) */
  isolation: z.enum(['sandbox', 'shared']).default('shared'),
  /** the uid the desktop's programs run as */
  uid: z.number().int().nonnegative().optional(),
  display: z.number().int().nonnegative().optional(),
  processes: z.object({ display: ProcessRefSchema.optional(), desktop: ProcessRefSchema.optional(), streamer: ProcessRefSchema.optional(), audio: ProcessRefSchema.optional() }).default({}),
});
export type LocalSessionRecord = z.infer<typeof LocalSessionRecord>;

const StartStats = z.record(z.string(), z.object({ average: z.number().nonnegative(), samples: z.number().int().nonnegative() }));

const StateFile = z.object({
  version: z.literal(2),
  sessions: z.array(LocalSessionRecord),
  startStats: StartStats,
});
export type StateFile = z.infer<typeof StateFile>;

/** Version 1 (before sandboxes): Xvnc and the desktop script as two fields, always shared. */
const StateFileV1 = z.object({
  version: z.literal(1),
  sessions: z.array(
    z.object({
      session: Session.omit({ expectedStartSeconds: true }),
      runDir: z.string(),
      display: z.number().int().nonnegative().optional(),
      xvnc: ProcessRefSchema.optional(),
      desktop: ProcessRefSchema.optional(),
    }),
  ),
  startStats: StartStats,
});

/** Pure: a state file of any version we wrote -> the current shape. */
export function parseStateFile(raw: unknown): StateFile {
  const v1 = StateFileV1.safeParse(raw);
  if (!v1.success) return StateFile.parse(raw);
  return {
    version: 2,
    startStats: v1.data.startStats,
    sessions: v1.data.sessions.map(({ xvnc, desktop, ...rest }) => ({ ...rest, isolation: 'shared', processes: { ...(xvnc ? { display: xvnc } : {}), ...(desktop ? { desktop } : {}) } })),
  };
}

export const emptyState = (): StateFile => ({ version: 2, sessions: [], startStats: {} });

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
    return { state: parseStateFile(JSON.parse(text)) };
  } catch (error) {
    const aside = `${file}.broken-${Date.now()}`;
    renameSync(file, aside);
    return { state: emptyState(), problem: `${file} was unreadable (${(error as Error).message.split('\n')[0]}); moved it to ${aside}` };
  }
}

/** Throws the OS error (ENOSPC, EROFS, EACCES...) when the file cannot be written; a half-written temp file is removed. */
export function saveState(file: string, state: StateFile): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(state, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the same fault: nothing more to do, the caller reports the first error
    }
    throw error;
  }
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
