/**
 * Single use of connect tokens: claim() is true the first time a token id is claimed and false ever
 * after (until the token has expired anyway). In memory for one agent; in the cluster for replicas
 * (runtime/kubernetes/connect-token-ledger.ts, as Events on the Session), so a URL opens once across all.
 */
export interface ConnectTokenLedger {
  claim(claims: { jti: string; user: string; session: string; exp: number }): Promise<boolean>;
}

export class MemoryConnectTokenLedger implements ConnectTokenLedger {
  /** connect-token ids already used, with their expiry (seconds): remembered until they expire anyway */
  private readonly used = new Map<string, number>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  claim({ jti, exp }: { jti: string; exp: number }): Promise<boolean> {
    const now = this.nowSeconds();
    for (const [id, e] of this.used) if (e < now) this.used.delete(id);
    if (this.used.has(jti)) return Promise.resolve(false);
    this.used.set(jti, exp);
    return Promise.resolve(true);
  }
}

