/**
 * The local side of the text clipboard. The async Clipboard API needs a focused page and, for
 * reading, permission; both can be missing, so every call reports failure instead of throwing
 * and the session view falls back to its clipboard panel.
 */
export async function writeLocalClipboard(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard?.writeText) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** Reads the local clipboard when the browser lets us without nagging; undefined otherwise. */
export async function readLocalClipboard(): Promise<string | undefined> {
  try {
    if (!navigator.clipboard?.readText) return undefined;
    if (navigator.permissions?.query) {
      const status = await navigator.permissions.query({ name: 'clipboard-read' as PermissionName }).catch(() => undefined);
      if (status?.state === 'denied') return undefined;
    }
    return await navigator.clipboard.readText();
  } catch {
    return undefined;
  }
}
