/** Which templates a user may start: pure, from TemplateSpec allowedUsers/allowedGroups. */
import type { Template } from '../contract/index.js';
import type { TemplateSpec } from '../runtime/types.js';

export interface Principal {
  name: string;
  groups: string[];
  /** a guest (kiosk sign-in without an account): only these templates, whatever their lists say */
  onlyTemplates?: string[];
  /** the enrolled device this sign-in was made on, if any */
  device?: string;
}

export const NEEDS_ENROLLED_DEVICE = 'This desktop opens only on a device your organisation enrolled (a kiosk); sign in there';

/** No lists (or empty lists) = everybody; otherwise named users or members of a named group. Guests: their list. */
export function mayUseTemplate(user: Principal, t: TemplateSpec): boolean {
  if (user.onlyTemplates) return user.onlyTemplates.includes(t.name);
  const users = t.allowedUsers ?? [];
  const groups = t.allowedGroups ?? [];
  if (users.length === 0 && groups.length === 0) return true;
  return users.includes(user.name) || user.groups.some((g) => groups.includes(g));
}

/** The public view: strips who-may-use lists so one user does not learn about others. */
export function publicTemplate(t: TemplateSpec): Template {
  return {
    name: t.name,
    displayName: t.displayName,
    description: t.description,
    available: t.available,
    ...(t.unavailableReason !== undefined ? { unavailableReason: t.unavailableReason } : {}),
    ...(t.warning !== undefined ? { warning: t.warning } : {}),
    protocols: t.protocols,
    idleTimeoutSeconds: t.idleTimeoutSeconds,
  };
}

/** Usable templates as this person sees them here: one that needs an enrolled device is unavailable elsewhere, saying why. */
export function templatesFor(user: Principal, all: TemplateSpec[]): Template[] {
  return all
    .filter((t) => mayUseTemplate(user, t))
    .map((t) => (t.requireEnrolledDevice && !user.device && t.available ? { ...publicTemplate(t), available: false, unavailableReason: NEEDS_ENROLLED_DEVICE } : publicTemplate(t)));
}
