import { PortholeError } from '../../bridge/contract.js';

/** The PortholeError a call rejects with (anything else is rethrown; a call that succeeds fails the test). */
export async function failure(p: Promise<unknown>): Promise<PortholeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PortholeError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}
