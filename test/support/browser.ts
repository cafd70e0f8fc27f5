/** Debian's Chromium driven by playwright-core (never a downloaded browser). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * `netns`: Chromium runs inside that network namespace (entered with nsenter by a wrapper beside the
 * profile), as a viewer on that network would: it reaches the addresses there and nothing else.
 */
export async function launchChromium(profileDir: string, opts: { netns?: string } = {}): Promise<BrowserContext> {
  let executablePath = CHROMIUM;
  if (opts.netns) {
    executablePath = join(profileDir, 'chromium-in-netns.sh');
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(executablePath, `#!/bin/sh\nexec nsenter --net=/run/netns/${opts.netns} -- ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }
  return chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
}
