/**
 * Who is looking at which desktop, so a person's desktop shows on one device at a time (roaming):
 * opening it on another device ends the first device's stream with a sentence, and that device's
 * automatic reconnects are refused instead of taking it back, so two devices never fight over it.
 * Streams opened without a device id (tools, scripts) are left alone and never end anyone's.
 * In memory, per agent; with several replicas, a takeover on one is announced through the runtime and
 * ends the other replicas' streams from other devices too (takenOverElsewhere), and the devices other
 * replicas show it on count when one decides mayConnect (docs/agent.md, "Roaming").
 */
export interface Viewer {
  device?: string;
  /** ends this viewer's stream, with the close code and sentence */
  end(code: number, reason: string): void;
}

interface Watching extends Viewer {
  /** when its stream opened here (ms) */
  since: number;
}

/** Pure: may `device` connect now? Only a person's takeover opens it while another device shows it. */
export function mayConnect(open: readonly { device?: string }[], device: string | undefined, takeOver: boolean): boolean {
  if (!device || takeOver) return true;
  return !open.some((v) => v.device !== undefined && v.device !== device);
}

/** Pure: whose streams a new viewer ends: on a takeover, every other device's. */
export function endedBy<V extends Viewer>(open: readonly V[], device: string | undefined, takeOver: boolean): V[] {
  if (!device || !takeOver) return [];
  return open.filter((v) => v.device !== undefined && v.device !== device);
}

/** Pure: whose streams another replica's takeover by `device` at `at` ends: other devices' opened before it. */
export function endedByRemote<V extends Viewer & { since: number }>(open: readonly V[], device: string, at: number): V[] {
  return open.filter((v) => v.device !== undefined && v.device !== device && v.since < at);
}

export class Viewers {
  private readonly bySession = new Map<string, Set<Watching>>();

  constructor(private readonly now: () => number = Date.now) {}

  open(session: string): readonly Viewer[] {
    return this.watching(session);
  }

  /** Registers a viewer whose stream just opened; ends what it takes over. Returns its removal. */
  add(session: string, viewer: Viewer, takeOver: boolean, onEnded: (ended: Viewer) => void): () => void {
    this.end(session, endedBy(this.watching(session), viewer.device, takeOver), onEnded);
    let set = this.bySession.get(session);
    if (!set) this.bySession.set(session, (set = new Set()));
    const watching: Watching = { ...viewer, since: this.now() };
    set.add(watching);
    return () => {
      set.delete(watching);
      if (set.size === 0 && this.bySession.get(session) === set) this.bySession.delete(session);
    };
  }

  /** Another replica opened the session on `device` at `at`: ends the streams here that it takes over. */
  takenOverElsewhere(session: string, device: string, at: number, onEnded: (ended: Viewer) => void): void {
    this.end(session, endedByRemote(this.watching(session), device, at), onEnded);
  }

  private watching(session: string): Watching[] {
    return [...(this.bySession.get(session) ?? [])];
  }

  private end(session: string, viewers: readonly Watching[], onEnded: (ended: Viewer) => void): void {
    for (const v of viewers) {
      this.bySession.get(session)?.delete(v);
      onEnded(v);
    }
  }
}
