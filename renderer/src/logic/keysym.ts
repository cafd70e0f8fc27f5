/**
 * A browser key event -> the X keysym the desktop should get. The character the browser produced
 * (`key`, which already follows the person's layout: ä, @ under AltGr, й) is sent as its keysym, so
 * the remote layout does not matter; named keys have fixed keysyms. Pure.
 */

const NAMED: Record<string, number> = {
  Backspace: 0xff08, Tab: 0xff09, Enter: 0xff0d, Escape: 0xff1b, Delete: 0xffff,
  Home: 0xff50, ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  PageUp: 0xff55, PageDown: 0xff56, End: 0xff57, Insert: 0xff63, ContextMenu: 0xff67,
  Pause: 0xff13, ScrollLock: 0xff14, PrintScreen: 0xff61, NumLock: 0xff7f, CapsLock: 0xffe5,
  F1: 0xffbe, F2: 0xffbf, F3: 0xffc0, F4: 0xffc1, F5: 0xffc2, F6: 0xffc3, F7: 0xffc4, F8: 0xffc5,
  F9: 0xffc6, F10: 0xffc7, F11: 0xffc8, F12: 0xffc9,
};

/** Modifiers by side: the location tells left from right. */
const MODIFIERS: Record<string, [number, number]> = {
  Shift: [0xffe1, 0xffe2],
  Control: [0xffe3, 0xffe4],
  Alt: [0xffe9, 0xffea],
  Meta: [0xffeb, 0xffec], // Super: the Windows/Command key
  OS: [0xffeb, 0xffec],
};

/** Keys that only change what another key produces: the produced character is what is sent. */
const SKIP = new Set(['AltGraph', 'Dead', 'Unidentified', 'Process', 'Compose']);

export function keysymOf(e: { key: string; location?: number }): number | undefined {
  const mod = MODIFIERS[e.key];
  if (mod) return e.location === 2 ? mod[1] : mod[0];
  if (SKIP.has(e.key)) return undefined;
  const named = NAMED[e.key];
  if (named !== undefined) return named;
  const chars = [...e.key];
  if (chars.length !== 1) return undefined;
  const cp = chars[0]!.codePointAt(0)!;
  // Latin-1 keysyms equal their code points; everything else is the Unicode keysym range.
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  return 0x01000000 + cp;
}
