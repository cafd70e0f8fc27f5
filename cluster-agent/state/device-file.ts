/**
 * Enrolled devices in the data dir (`devices.json`, 0600). The CLI and a running agent may both write
 * it: each update re-reads the file right before writing it whole (atomic rename), so a lost update
 * needs two writes in the same millisecond.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { DevicesDoc, emptyDevices, type DeviceStore } from './devices.js';

export const DEVICES_FILE = 'devices.json';

export class FileDeviceStore implements DeviceStore {
  readonly where: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.where = join(dataDir, DEVICES_FILE);
  }

  async load(): Promise<DevicesDoc> {
    let text: string;
    try {
      text = await readFile(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyDevices();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = DevicesDoc.safeParse(json);
    if (!parsed.success) throw new Error(`${this.where} is not a list of enrolled devices; move it away (every device is then enrolled again)`);
    return parsed.data;
  }

  update<T>(change: (doc: DevicesDoc) => { doc: DevicesDoc; result: T }): Promise<T> {
    // One update at a time in this process; the file is re-read inside, after the one before wrote.
    const run = this.queue.then(async () => {
      const { doc, result } = change(await this.load());
      await writeFileAtomic(this.where, JSON.stringify(doc), 0o600);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
