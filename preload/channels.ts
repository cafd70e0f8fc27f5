/** IPC channel names shared by the preload and the Electron main (no imports: both bundles use it). */
export const EVENT_CHANNEL = 'porthole:event';
export const methodChannel = (method: string): string => `porthole:${method}`;
/** Admin mode's surface: its own channels, which the main process handles only where admin mode is allowed. */
export const ADMIN_EVENT_CHANNEL = 'porthole-admin:event';
export const adminChannel = (method: string): string => `porthole-admin:${method}`;
