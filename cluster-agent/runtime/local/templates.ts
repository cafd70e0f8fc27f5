/**
 * Built-in templates of the local runtime and the shell script that runs each desktop's programs.
 * Availability is decided by which programs are on PATH, so a newcomer sees why a template is off.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TemplateSpec } from '../types.js';

export const DEFAULT_IDLE_TIMEOUT_SECONDS = 1800;

export interface LocalTemplate {
  spec: TemplateSpec;
  /** body of the desktop script (POSIX sh); must end by running the session's main program in the foreground */
  script: string;
}

/** Finds an executable on a PATH string (sync: called while creating a session record). */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function missingReason(what: string, missing: string[], packages: string): string {
  return `${what} is not installed on this machine (missing: ${missing.join(', ')}): run \`sudo apt-get install ${packages}\``;
}

/**
 * Pure: the built-in templates given a program lookup. The script's last foreground program decides
 * the session's life: when it exits the desktop is over (the exit status is recorded for the agent).
 */
export function builtInTemplates(has: (program: string) => boolean): LocalTemplate[] {
  const missing = (programs: string[]) => programs.filter((p) => !has(p));

  const terminalMissing = missing(['Xvnc', 'openbox', 'xterm']);
  const terminal: LocalTemplate = {
    spec: {
      name: 'terminal',
      displayName: 'Terminal',
      description: 'A light desktop: the Openbox window manager and a terminal. Closing the last terminal ends it.',
      available: terminalMissing.length === 0,
      ...(terminalMissing.length ? { unavailableReason: missingReason('The terminal desktop', terminalMissing, 'tigervnc-standalone-server openbox xterm') } : {}),
      protocols: ['vnc'],
      idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
    },
    // The terminal starts once openbox manages the screen, so openbox maps it focused.
    script: [
      'openbox --startup "touch \\"$PORTHOLE_RUN_DIR/wm-ready\\"" &',
      'wm=$!',
      'i=0',
      'while [ ! -e "$PORTHOLE_RUN_DIR/wm-ready" ] && [ "$i" -lt 100 ] && kill -0 "$wm" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done',
      'xterm -title Terminal',
      'status=$?',
      'kill "$wm" 2>/dev/null',
    ].join('\n'),
  };

  const xfceMissing = missing(['Xvnc', 'startxfce4', 'xfce4-session', 'xfwm4', 'dbus-launch']);
  const xfce: LocalTemplate = {
    spec: {
      name: 'xfce',
      displayName: 'XFCE desktop',
      description: 'A full desktop (XFCE): panel, file manager, settings. Logging out ends it.',
      available: xfceMissing.length === 0,
      ...(xfceMissing.length ? { unavailableReason: missingReason('The XFCE desktop', xfceMissing, 'xfce4 dbus-x11') } : {}),
      protocols: ['vnc'],
      idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
    },
    // XFCE needs a session bus; give it its own, which ends with the session.
    script: [
      'if [ -z "$DBUS_SESSION_BUS_ADDRESS" ]; then',
      '  dbus-launch --exit-with-session startxfce4',
      'else',
      '  startxfce4',
      'fi',
      'status=$?',
    ].join('\n'),
  };

  return [terminal, xfce];
}

/** Pure: the whole desktop script; writes the main program's exit status so the agent can tell "logged out" from "killed". */
export function desktopScript(template: LocalTemplate): string {
  return [
    '#!/bin/sh',
    `# Porthole desktop "${template.spec.name}": runs until its main program exits.`,
    template.script,
    'echo "$status" > "$PORTHOLE_RUN_DIR/desktop.exit"',
    'exit "$status"',
    '',
  ].join('\n');
}
