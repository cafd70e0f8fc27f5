/** Pure rules for what the device's policy lets the renderer do. */
import type { EffectivePolicy } from '../../../bridge/contract.js';

/** Which ways text may move between this device and the desktop. */
export function clipboardAllows(direction: EffectivePolicy['clipboard']['value']): { toDesktop: boolean; fromDesktop: boolean } {
  return { toDesktop: direction === 'both' || direction === 'to-desktop', fromDesktop: direction === 'both' || direction === 'from-desktop' };
}

/** A kiosk that starts one desktop for everyone: leaving that desktop is signing out. */
export function leavingSignsOut(policy: EffectivePolicy | undefined): boolean {
  return !!policy?.kiosk.value && !!policy.autoStartTemplate.value;
}

/** ms left before an idle kiosk signs the person out; undefined when it never does. */
export function idleLeftMs(policy: EffectivePolicy | undefined, lastInputAt: number, now: number): number | undefined {
  const seconds = policy?.kiosk.value ? policy.idleSignOutSeconds.value : null;
  if (!seconds) return undefined;
  return Math.max(0, lastInputAt + seconds * 1000 - now);
}

/** The warning before an idle sign-out, shown in the last 30 s. */
export const IDLE_WARNING_MS = 30_000;

export const MANAGED_NOTE = "Set by your organisation's policy on this device.";
