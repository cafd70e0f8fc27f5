/** IPC channel names shared by the preload and the Electron main (no imports: both bundles use it). */
export const EVENT_CHANNEL = 'porthole:event';
export const methodChannel = (method: string): string => `porthole:${method}`;
