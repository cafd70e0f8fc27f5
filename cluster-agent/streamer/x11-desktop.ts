/**
 * The streamer's hands on the desktop, over one X connection (the pure-JS `x11` client): input injected
 * with XTEST (no process per event), the cursor image from XFixes (drawn by the browser, so pointing
 * has no stream latency), the text clipboard both ways through X selections, and the screen size.
 * Resizing runs xrandr once per request (RandR on Xvnc), not per event: Xvnc's output takes any size
 * as a mode of its own (`--newmode` + `--addmode`), where `--fb` alone changed the framebuffer and left
 * the output at its old mode.
 */
import { execFile } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import x11 from 'x11';
import type { InputMessage, StreamerMessage } from '../contract/webrtc.js';
import type { DesktopLink } from './viewer.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the x11 package has no types; its calls are wrapped here */
type X = any;

const XK_SHIFT_L = 0xffe1;
const MAX_CLIPBOARD = 1024 * 1024;

// ---- pure helpers -----------------------------------------------------------------------------

/** A keyboard mapping: keycode -> its keysyms (column 0 plain, 1 shifted, ...). */
export type KeyMap = Map<number, number[]>;

/** Pure: where a keysym is, preferring the plain column: keycode and whether Shift is needed. */
export function findKeysym(map: KeyMap, keysym: number): { keycode: number; shift: boolean } | undefined {
  let shifted: { keycode: number; shift: boolean } | undefined;
  for (const [keycode, syms] of map) {
    if (syms[0] === keysym) return { keycode, shift: false };
    if (syms[1] === keysym && !shifted) shifted = { keycode, shift: true };
  }
  return shifted;
}

/** Pure: keycodes with no keysym at all, which can be borrowed for keysyms the layout lacks. */
export function spareKeycodes(map: KeyMap, min: number, max: number): number[] {
  const out: number[] = [];
  for (let k = max; k >= min; k--) if (!(map.get(k) ?? []).some((s) => s !== 0)) out.push(k);
  return out;
}

/** Pure: X buttons to press and release going from one client button mask to the next (1 left, 2 middle, 4 right, 8 back, 16 forward). */
export function buttonChanges(prev: number, next: number): Array<{ button: number; down: boolean }> {
  const buttons = [1, 2, 3, 8, 9];
  const out: Array<{ button: number; down: boolean }> = [];
  for (let bit = 0; bit < buttons.length; bit++) {
    const was = (prev >> bit) & 1;
    const is = (next >> bit) & 1;
    if (was !== is) out.push({ button: buttons[bit]!, down: is === 1 });
  }
  return out;
}

/** Pure: premultiplied ARGB32 (XFixes cursor image) -> a PNG file, RGBA. */
export function cursorPng(width: number, height: number, argb: Buffer): Buffer {
  const raw = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 4)] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const px = argb.readUInt32LE((y * width + x) * 4);
      const a = px >>> 24;
      const un = (c: number) => (a ? Math.min(255, Math.round((c * 255) / a)) : 0);
      const o = y * (1 + width * 4) + 1 + x * 4;
      raw[o] = un((px >>> 16) & 0xff);
      raw[o + 1] = un((px >>> 8) & 0xff);
      raw[o + 2] = un(px & 0xff);
      raw[o + 3] = a;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- the connection ---------------------------------------------------------------------------

const call = <T>(fn: (cb: (err: unknown, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err instanceof Error ? err : new Error(String((err as { message?: string }).message ?? err))) : resolve(value))));

export interface X11DesktopOptions {
  display: string;
  log: (msg: string) => void;
}

export class X11Desktop implements DesktopLink {
  private readonly listeners = new Set<(m: StreamerMessage) => void>();
  private keymap: KeyMap = new Map();
  private spare: number[] = [];
  private borrowed = new Map<number, number>(); // keysym -> borrowed keycode
  /** keysym -> the keycode pressed for it (and whether we added Shift), so the release matches */
  private readonly pressed = new Map<number, { keycode: number; shift: boolean }>();
  private buttons = 0;
  private width = 0;
  private height = 0;
  private clipboardText = '';
  private lastCursor?: StreamerMessage;
  private atoms: Record<string, number> = {};

  private constructor(
    private readonly X: X,
    private readonly root: number,
    private readonly test: X,
    private readonly fixes: X,
    private readonly window: number,
    private readonly min: number,
    private readonly max: number,
    private readonly o: X11DesktopOptions,
  ) {}

  static async connect(o: X11DesktopOptions): Promise<X11Desktop> {
    const display: X = await call((cb) => x11.createClient({ display: o.display }, cb));
    const X = display.client;
    const root = display.screen[0].root;
    const test = await call((cb) => X.require('xtest', cb));
    const fixes = await call((cb) => X.require('fixes', cb));
    // A window of our own, never mapped: the selection owner and conversion target.
    const window = X.AllocID();
    X.CreateWindow(window, root, 0, 0, 1, 1, 0, 0, 0, 0, { eventMask: x11.eventMask.PropertyChange });
    const d = new X11Desktop(X, root, test, fixes, window, display.min_keycode, display.max_keycode, o);
    await d.init();
    return d;
  }

  private async atom(name: string): Promise<number> {
    this.atoms[name] ??= await call<number>((cb) => this.X.InternAtom(false, name, cb));
    return this.atoms[name]!;
  }

  private async init(): Promise<void> {
    const X = this.X;
    await this.loadKeymap();
    for (const n of ['CLIPBOARD', 'PRIMARY', 'UTF8_STRING', 'TARGETS', 'PORTHOLE_CLIPBOARD', 'STRING', 'TEXT']) await this.atom(n);
    const geometry = await call<{ width: number; height: number }>((cb) => X.GetGeometry(this.root, cb));
    this.width = geometry.width;
    this.height = geometry.height;
    X.ChangeWindowAttributes(this.root, { eventMask: x11.eventMask.StructureNotify });
    this.fixes.SelectCursorInput(this.root, this.fixes.CursorNotifyMask.DisplayCursor);
    const owner = this.fixes.SelectionEventMask.SetSelectionOwner;
    this.fixes.SelectSelectionInput(this.root, this.atoms.CLIPBOARD, owner);
    X.on('event', (ev: X) => void this.onEvent(ev).catch((err: Error) => this.o.log(`x11 event: ${err.message}`)));
    X.on('error', (err: Error) => this.o.log(`x11: ${err.message}`));
    void this.sendCursor();
  }

  private async loadKeymap(): Promise<void> {
    const rows = await call<number[][]>((cb) => this.X.GetKeyboardMapping(this.min, this.max - this.min + 1, cb));
    this.keymap = new Map(rows.map((syms, i) => [this.min + i, syms]));
    this.spare = spareKeycodes(this.keymap, this.min, this.max);
  }

  subscribe(send: (m: StreamerMessage) => void): () => void {
    this.listeners.add(send);
    send({ t: 'screen', w: this.width, h: this.height });
    if (this.lastCursor) send(this.lastCursor);
    return () => this.listeners.delete(send);
  }

  private broadcast(m: StreamerMessage): void {
    for (const send of this.listeners) send(m);
  }

  // ---- input ----------------------------------------------------------------------------------

  /** Input is applied strictly in arrival order: a key that needs a borrowed keycode waits for it, and so does what follows. */
  private queue: Promise<void> = Promise.resolve();

  input(m: InputMessage): void {
    this.queue = this.queue.then(() => this.apply(m)).catch((err: Error) => this.o.log(`input: ${err.message}`));
  }

  private async apply(m: InputMessage): Promise<void> {
    switch (m.t) {
      case 'p': {
        const x = Math.round(m.x * (this.width - 1));
        const y = Math.round(m.y * (this.height - 1));
        this.test.FakeInput(this.test.MotionNotify, 0, 0, this.root, x, y);
        for (const c of buttonChanges(this.buttons, m.b)) this.test.FakeInput(c.down ? this.test.ButtonPress : this.test.ButtonRelease, c.button, 0, this.root, 0, 0);
        this.buttons = m.b;
        break;
      }
      case 'w': {
        const click = (button: number, n: number) => {
          for (let i = 0; i < n; i++) {
            this.test.FakeInput(this.test.ButtonPress, button, 0, this.root, 0, 0);
            this.test.FakeInput(this.test.ButtonRelease, button, 0, this.root, 0, 0);
          }
        };
        click(m.dy > 0 ? 5 : 4, Math.abs(m.dy));
        click(m.dx > 0 ? 7 : 6, Math.abs(m.dx));
        break;
      }
      case 'k':
        await this.key(m.keysym, m.down);
        break;
      case 'u':
        this.releaseAll();
        break;
      case 'c':
        await this.setClipboard(m.text);
        break;
      case 'r':
        this.resize(m.w, m.h);
        break;
    }
  }

  private async key(keysym: number, down: boolean): Promise<void> {
    if (!down) {
      const was = this.pressed.get(keysym);
      if (!was) return;
      this.pressed.delete(keysym);
      this.test.FakeInput(this.test.KeyRelease, was.keycode, 0, this.root, 0, 0);
      if (was.shift) this.fakeShift(false);
      return;
    }
    let where = findKeysym(this.keymap, keysym);
    if (!where) where = await this.borrowKeycode(keysym);
    if (!where) return;
    // Shift only when the keysym needs it and the person is not holding Shift already.
    const shiftHeld = [...this.pressed.keys()].some((k) => k === XK_SHIFT_L || k === 0xffe2);
    const addShift = where.shift && !shiftHeld;
    if (addShift) this.fakeShift(true);
    this.test.FakeInput(this.test.KeyPress, where.keycode, 0, this.root, 0, 0);
    this.pressed.set(keysym, { keycode: where.keycode, shift: addShift });
  }

  private fakeShift(down: boolean): void {
    const shift = findKeysym(this.keymap, XK_SHIFT_L);
    if (shift) this.test.FakeInput(down ? this.test.KeyPress : this.test.KeyRelease, shift.keycode, 0, this.root, 0, 0);
  }

  /** A keysym the layout lacks (ä on a US layout, say): map it onto a spare keycode, as VNC servers do. */
  private async borrowKeycode(keysym: number): Promise<{ keycode: number; shift: boolean } | undefined> {
    let keycode = this.borrowed.get(keysym);
    if (keycode === undefined) {
      keycode = this.spare.shift();
      if (keycode === undefined) {
        // every spare is in use: reuse the oldest borrowed one
        const [oldSym, oldCode] = this.borrowed.entries().next().value ?? [];
        if (oldCode === undefined) return undefined;
        this.borrowed.delete(oldSym!);
        keycode = oldCode;
      }
      this.borrowed.set(keysym, keycode);
      const perKeycode = this.keymap.get(keycode)?.length || 2;
      const syms = Array.from({ length: perKeycode }, (_, i) => (i < 2 ? keysym : 0));
      this.X.ChangeKeyboardMapping(keycode, perKeycode, syms);
      this.keymap.set(keycode, syms);
      await call((cb) => this.X.GetInputFocus(cb)); // a round trip: the mapping is in place before the key
    }
    return { keycode, shift: false };
  }

  private releaseAll(): void {
    for (const [keysym, was] of this.pressed) {
      this.test.FakeInput(this.test.KeyRelease, was.keycode, 0, this.root, 0, 0);
      if (was.shift) this.fakeShift(false);
      this.pressed.delete(keysym);
    }
    for (const c of buttonChanges(this.buttons, 0)) this.test.FakeInput(this.test.ButtonRelease, c.button, 0, this.root, 0, 0);
    this.buttons = 0;
  }

  private resizing = false;
  private pendingSize?: { w: number; h: number };

  /** One resize at a time; a request made meanwhile replaces the one waiting (the window's last size wins). */
  private resize(w: number, h: number): void {
    if (w === this.width && h === this.height && !this.resizing) return;
    this.pendingSize = { w, h };
    if (this.resizing) return;
    this.resizing = true;
    void (async () => {
      while (this.pendingSize) {
        const want = this.pendingSize;
        this.pendingSize = undefined;
        if (want.w === this.width && want.h === this.height) continue;
        try {
          for (const argv of resizeCommands(await xrandr([]), want.w, want.h)) await xrandr(argv);
        } catch (err) {
          this.o.log(`resize to ${want.w}x${want.h} refused: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      this.resizing = false;
    })();
  }

  // ---- events: screen, cursor, clipboard --------------------------------------------------------

  private async onEvent(ev: X): Promise<void> {
    switch (ev.name) {
      case 'ConfigureNotify':
        if (ev.wid === this.root && (ev.width !== this.width || ev.height !== this.height)) {
          this.width = ev.width;
          this.height = ev.height;
          this.broadcast({ t: 'screen', w: this.width, h: this.height });
        }
        break;
      case 'CursorNotify':
        await this.sendCursor();
        break;
      case 'SelectionNotify':
        // XFixes: a new owner of CLIPBOARD (not us) -> ask it for the text; core: the text arrived.
        if (ev.owner !== undefined && ev.owner !== this.window && ev.selection === this.atoms.CLIPBOARD) {
          this.X.ConvertSelection(this.window, this.atoms.CLIPBOARD, this.atoms.UTF8_STRING, this.atoms.PORTHOLE_CLIPBOARD, 0);
        } else if (ev.requestor === this.window && ev.property) {
          await this.readClipboard();
        }
        break;
      case 'SelectionRequest':
        this.answerSelectionRequest(ev);
        break;
      case 'MappingNotify':
        await this.loadKeymap();
        break;
    }
  }

  private async sendCursor(): Promise<void> {
    const img = await call<{ width: number; height: number; xhot: number; yhot: number; cursorImage: Buffer }>((cb) => this.fixes.GetCursorImage(cb));
    if (!img.width || !img.height) return;
    this.lastCursor = { t: 'cursor', png: cursorPng(img.width, img.height, img.cursorImage).toString('base64'), x: img.xhot, y: img.yhot, w: img.width, h: img.height };
    this.broadcast(this.lastCursor);
  }

  private async readClipboard(): Promise<void> {
    const prop = await call<{ data: Buffer }>((cb) => this.X.GetProperty(1, this.window, this.atoms.PORTHOLE_CLIPBOARD, 0, 0, MAX_CLIPBOARD / 4, cb));
    const text = prop.data.toString('utf8');
    if (text === this.clipboardText) return;
    this.clipboardText = text;
    this.broadcast({ t: 'c', text });
  }

  private async setClipboard(text: string): Promise<void> {
    this.clipboardText = text;
    for (const sel of [this.atoms.CLIPBOARD, this.atoms.PRIMARY]) this.X.SetSelectionOwner(this.window, sel, 0);
  }

  private answerSelectionRequest(ev: X): void {
    const { UTF8_STRING, TARGETS, STRING, TEXT } = this.atoms;
    const property = ev.property || ev.target;
    let ok = true;
    if (ev.target === TARGETS) {
      this.X.ChangeProperty(0, ev.requestor, property, 4 /* ATOM */, 32, [TARGETS, UTF8_STRING, STRING, TEXT]);
    } else if (ev.target === UTF8_STRING || ev.target === STRING || ev.target === TEXT) {
      this.X.ChangeProperty(0, ev.requestor, property, ev.target === STRING ? STRING : UTF8_STRING, 8, Buffer.from(this.clipboardText, ev.target === STRING ? 'latin1' : 'utf8'));
    } else {
      ok = false;
    }
    this.X.SendEvent(ev.requestor, false, 0, { type: 31, seq: 0, name: 'SelectionNotify', time: ev.time, requestor: ev.requestor, selection: ev.selection, target: ev.target, property: ok ? property : 0 });
  }

  close(): void {
    try {
      this.X.terminate();
    } catch {
      // gone
    }
  }
}

function xrandr(args: string[]): Promise<string> {
  return new Promise((ok, fail) => execFile('xrandr', args, { env: { ...process.env }, timeout: 5000 }, (err, stdout) => (err ? fail(err) : ok(stdout))));
}

/**
 * Pure: the xrandr commands that give the first connected output a WxH mode, from what `xrandr` (no
 * arguments) printed: the mode itself when the output has it, else a new one added first. The mode's
 * timings are nominal (a VNC screen has no monitor): 60 Hz at that size.
 */
export function resizeCommands(query: string, w: number, h: number): string[][] {
  const lines = query.split('\n');
  const at = lines.findIndex((l) => / connected/.test(l));
  if (at < 0) throw new Error('xrandr shows no connected output');
  const output = lines[at]!.split(' ')[0]!;
  const modes: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^\s+(\S+)/.exec(l);
    if (!m || !/^\s/.test(l)) break;
    modes.push(m[1]!);
  }
  const name = `${w}x${h}`;
  const use = ['--output', output, '--mode', name];
  if (modes.includes(name)) return [use];
  const clock = ((w * h * 60) / 1e6).toFixed(2);
  return [['--newmode', name, clock, String(w), String(w), String(w), String(w), String(h), String(h), String(h), String(h)], ['--addmode', output, name], use];
}
