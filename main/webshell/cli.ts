/**
 * `npm run webshell -- [--listen 127.0.0.1:0] [--agent URL] [--renderer-dir DIR] [--show-policy]`
 * Prints exactly `webshell on http://127.0.0.1:PORT/#key=KEY` once ready (scripts and tests wait for
 * it); logs go to stderr. The device's policy (PORTHOLE_POLICY or /etc/porthole/policy.json) applies;
 * `--show-policy` prints the effective settings and where each came from, and exits.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLauncherCore } from '../core/index.js';
import { stderrLogger } from '../core/logger.js';
import { parseAgentUrl } from '../core/agent-url.js';
import type { EffectivePolicy } from '../../bridge/contract.js';
import { loadPolicy, PolicyError, policyTable } from '../core/policy.js';
import { startWebShell } from './server.js';

const USAGE = 'usage: npm run webshell -- [--listen 127.0.0.1:PORT] [--agent URL] [--renderer-dir DIR] [--profile-dir DIR] [--show-policy] [--admin]';

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen must be HOST:PORT, like 127.0.0.1:0, got "${value}"`);
  return { host: (m[1] ?? m[2])!, port };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string', default: '127.0.0.1:0' },
      agent: { type: 'string' },
      'renderer-dir': { type: 'string' },
      // the encrypted offline workspaces (their key in the OS keychain); default ~/.cache/porthole/profiles
      'profile-dir': { type: 'string' },
      'show-policy': { type: 'boolean' },
      // admin mode (setting the agent up in a cluster) for this run, as the policy's admin.enabled does
      admin: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let policy: EffectivePolicy;
  try {
    policy = await loadPolicy();
  } catch (error) {
    // A policy that does not parse must not leave a managed device unmanaged: stop, naming the key.
    if (error instanceof PolicyError) {
      process.stderr.write(`webshell: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (values.admin && !policy.admin.value) policy = { ...policy, admin: { value: true, source: 'flag' as const } };
  if (values['show-policy']) {
    process.stdout.write(`${policyTable(policy)}\n`);
    return;
  }
  const { host, port } = parseListen(values.listen);
  // Refuse a bad --agent now rather than when somebody signs in.
  const defaultAgentUrl = values.agent ? parseAgentUrl(values.agent).display : undefined;
  if (defaultAgentUrl && policy.agentUrl.value && defaultAgentUrl !== policy.agentUrl.value) {
    process.stderr.write(`webshell: --agent ${defaultAgentUrl} is ignored: the policy (${policy.file}) fixes the agent at ${policy.agentUrl.value}\n`);
  }
  const profileDir = values['profile-dir'] ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'porthole', 'profiles');
  const core = createLauncherCore({ logger: stderrLogger, defaultAgentUrl, profileDir, policy });
  await core.ready;
  const admin = policy.admin.value ? (await import('../core/admin.js')).createAdminApi() : undefined;
  const shell = await startWebShell({ api: core, ...(admin ? { admin } : {}), host, port, rendererDir: values['renderer-dir'], logger: stderrLogger });
  process.stdout.write(`webshell on ${shell.url}\n`);

  const stop = () => {
    void Promise.allSettled([shell.close(), core.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`webshell: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});
