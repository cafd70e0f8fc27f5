/**
 * "Sign in with <company>" as a person on the web shell meets it: the agent started from a config file
 * with an OpenID Connect issuer (a real `oidc-provider`, test/support/oidc-issuer.ts), the sign-in
 * screen offering it beside the password form, the issuer's own login page opening in a new browser
 * window (never the launcher's), Playwright signing in there, and the launcher continuing by itself
 * with the person and the templates their groups allow; the core ran the code flow with PKCE on a
 * loopback redirect (RFC 8252) and checked state and nonce.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssuer, type Issuer } from '../support/oidc-issuer.js';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let idp: Issuer;
let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  idp = await startIssuer({ groups: { olga: ['designers'] } });
  stack = await startWebShellStack('e2e-oidc', 'root', 'local admin pw', {
    serveArgs: (dir) => {
      const cfg = join(dir, 'agent.yaml');
      writeFileSync(cfg, `identity:\n  oidc:\n    issuer: ${idp.issuer}\n    clientId: porthole\n    scopes: [openid, profile, groups]\n`);
      return ['--config', cfg];
    },
  });
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await idp?.stop();
});

describe('company sign-in (web shell)', () => {
  it('offers the company beside the password, signs in at the issuer in a window of its own, and comes back signed in', async () => {
    await page.goto(stack.shellUrl);
    const button = page.getByTestId('company-sign-in');
    await expect.poll(() => button.textContent(), { timeout: 10_000 }).toBe(`Sign in with ${new URL(idp.issuer).host}`);
    expect(await page.getByTestId('password').count()).toBe(1); // the users file is there too

    const popup = stack.context.waitForEvent('page');
    await button.click();
    const issuerPage = await popup;
    await issuerPage.waitForLoadState();
    expect(issuerPage.url().startsWith(idp.issuer)).toBe(true);
    await expect.poll(() => page.getByTestId('company-waiting').textContent()).toMatch(/Finish signing in in the browser window/);
    // The issuer's own login page (oidc-provider's development interaction), then its consent page.
    await issuerPage.locator('input[name="login"]').fill('olga');
    await issuerPage.locator('input[name="password"]').fill('whatever');
    await issuerPage.locator('button[type="submit"]').click();
    await issuerPage.locator('button[type="submit"]').click();
    await expect.poll(() => issuerPage.textContent('body'), { timeout: 10_000 }).toMatch(/You are signed in\. You can close this window/);

    await expect.poll(() => page.textContent('body'), { timeout: 15_000 }).toMatch(/Signed in as olga/);
    await page.getByTestId('template-terminal').waitFor();
  });
});
