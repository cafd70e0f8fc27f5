/** Errors the API turns into `{error:{code,message}}` with the right status. */
import type { AuthFailure, ConflictReason, ErrorCode } from '../contract/index.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    /** extra response headers, e.g. WWW-Authenticate or Retry-After */
    readonly headers: Record<string, string> = {},
    /** 401s: why, as a code (the contract's AuthFailure) */
    readonly reason?: AuthFailure | ConflictReason,
  ) {
    super(message);
  }
}

export const badRequest = (msg: string) => new ApiError(400, 'bad_request', msg);
export const unauthorized = (msg: string, reason: AuthFailure, headers?: Record<string, string>) => new ApiError(401, 'unauthorized', msg, headers, reason);
export const forbidden = (msg: string) => new ApiError(403, 'forbidden', msg);
export const notFound = (msg: string) => new ApiError(404, 'not_found', msg);
export const conflict = (msg: string, reason?: ConflictReason) => new ApiError(409, 'conflict', msg, {}, reason);
export const notReady = (msg: string) => new ApiError(503, 'not_ready', msg);
