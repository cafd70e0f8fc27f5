/**
 * Who is looking at which desktop, so a person's desktop shows on one device at a time (roaming):
 * opening it on another device ends the first device's stream with a sentence, and that device's
 * automatic reconnects are refused instead of taking it back, so two devices never fight over it.
 * Streams opened without a device id (tools, scripts) are left alone and never end anyone's.
 * In memory, per agent: with several replicas, a takeover seen by one replica ends only the streams
 * it carries (docs/agent.md, "Roaming").
 */
export interface Viewer {
  device?: string;
  /** ends this viewer's stream, with the close code and sentence */
  end(code: number, reason: string): void;
}

/** Pure: may `device` connect now? Only a person's takeover opens it while another device shows it. */
export function mayConnect(open: readonly Viewer[], device: string | undefined, takeOver: boolean): boolean {
  if (!device || takeOver) return true;
  return !open.some((v) => v.device !== undefined && v.device !== device);
}

/** Pure: whose streams a new viewer ends: on a takeover, every other device's. */
export function endedBy(open: readonly Viewer[], device: string | undefined, takeOver: boolean): Viewer[] {
  if (!device || !takeOver) return [];
  return open.filter((v) => v.device !== undefined && v.device !== device);
}

export class Viewers {
  private readonly bySession = new Map<string, Set<Viewer>>();

  open(session: string): readonly Viewer[] {
    return [...(this.bySession.get(session) ?? [])];
  }

  /** Registers a viewer whose stream just opened; ends what it takes over. Returns its removal. */
  add(session: string, viewer: Viewer, takeOver: boolean, onEnded: (ended: Viewer) => void): () => void {
    for (const other of endedBy(this.open(session), viewer.device, takeOver)) {
      this.bySession.get(session)?.delete(other);
      onEnded(other);
    }
    let set = this.bySession.get(session);
    if (!set) this.bySession.set(session, (set = new Set()));
    set.add(viewer);
    return () => {
      set.delete(viewer);
      if (set.size === 0 && this.bySession.get(session) === set) this.bySession.delete(session);
    };
  }
}
