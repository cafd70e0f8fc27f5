/** Reads exact byte counts from a socket, for the small protocol probes (X11 setup, RFB banner). */
import type { Socket } from 'node:net';

export class SocketReader {
  private buffered = Buffer.alloc(0);
  private waiting?: { n: number; ok: (b: Buffer) => void; fail: (e: Error) => void };
  private ended?: Error;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.pump();
    });
    const end = (error?: Error) => {
      this.ended = error ?? new Error('connection closed');
      this.pump();
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  read(n: number): Promise<Buffer> {
    return new Promise((ok, fail) => {
      this.waiting = { n, ok, fail };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.buffered.length >= w.n) {
      this.waiting = undefined;
      const out = this.buffered.subarray(0, w.n);
      this.buffered = this.buffered.subarray(w.n);
      w.ok(out);
    } else if (this.ended) {
      this.waiting = undefined;
      w.fail(this.ended);
    }
  }
}
