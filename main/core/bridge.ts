/**
 * One dispatcher for both bridges (Electron IPC and the web shell socket): checks the method and
 * its parameters (the renderer is less trusted than the core), calls the core, and returns a
 * BridgeResult, so errors cross as data with their code and sentence.
 */
import type { ZodType } from 'zod';
import { BRIDGE, BRIDGE_METHODS, PortholeError, type BridgeMethod, type BridgeResult } from '../../bridge/contract.js';
import { toPortholeError } from './errors.js';

/** A bridge surface's declaration: method -> zod parameters (BRIDGE, or admin mode's ADMIN_BRIDGE). */
export type Declaration = Record<string, { params: ZodType }>;

export function isBridgeMethod(method: unknown): method is BridgeMethod {
  return typeof method === 'string' && (BRIDGE_METHODS as readonly string[]).includes(method);
}

/** Validates a call from the renderer; throws PortholeError('bad_request') with what was wrong. */
export function checkCall(method: unknown, params: unknown, declaration: Declaration = BRIDGE): { method: string; params: unknown[] } {
  if (typeof method !== 'string' || !Object.hasOwn(declaration, method)) {
    throw new PortholeError('bad_request', `The launcher window asked for "${String(method)}", which Porthole does not offer here. Reload the window.`);
  }
  // Missing trailing arguments arrive as an empty array from some callers; treat undefined the same.
  const parsed = declaration[method]!.params.safeParse(params ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PortholeError('bad_request', `The launcher window called ${method} with bad arguments (${issue ? `${issue.path.join('.') || 'arguments'}: ${issue.message}` : 'invalid'}). Reload the window.`);
  }
  return { method, params: parsed.data as unknown[] };
}

export async function callBridge(api: object, method: unknown, params: unknown, declaration: Declaration = BRIDGE): Promise<BridgeResult<unknown>> {
  try {
    const call = checkCall(method, params, declaration);
    const fn = (api as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.method]!;
    const value = await fn.apply(api, call.params);
    // undefined does not survive JSON; null does, and means "done" for void methods.
    return { ok: true, value: value ?? null };
  } catch (error) {
    const e = toPortholeError(error);
    return { ok: false, error: { code: e.code, message: e.message } };
  }
}
