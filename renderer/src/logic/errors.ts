/**
 * Turns whatever a bridge call rejected with into a sentence for a person. The core already
 * writes its errors as sentences (PortholeError / BridgeError); Electron's contextBridge keeps
 * only the message of an Error, so never rely on the class or the code surviving.
 */
export function errorSentence(error: unknown, fallback = 'Something went wrong. Please try again.'): string {
  if (typeof error === 'string' && error.trim()) return error;
  if (error && typeof error === 'object' && 'message' in error) {
    const message = (error as { message: unknown }).message;
    if (typeof message === 'string' && message.trim()) {
      // Electron prefixes errors thrown in the main process; the person does not need that.
      return message.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
    }
  }
  return fallback;
}

export function errorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
