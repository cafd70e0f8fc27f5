/**
 * Error answers a route can give before its handler runs, so the OpenAPI document lists them where
 * they apply. They all have the contract's `{error:{code,message}}` body.
 */
import { ErrorBody } from '../../contract/index.js';

/** Any route: the request arrived too slowly (408) or its request line and headers are too large (431). */
export const transportErrors = {
  408: ErrorBody.describe('Request Timeout: the headers or the whole request did not arrive in time'),
  431: ErrorBody.describe('Request Header Fields Too Large: request line and headers over 16 KiB'),
};

/** API routes also answer 503 while the agent is starting or shutting down. */
export const apiErrors = {
  ...transportErrors,
  503: ErrorBody.describe('Not ready: the agent is starting its runtime or shutting down'),
};

/** Routes that accept a body (any POST or DELETE): too large, or not JSON. */
export const bodyErrors = {
  413: ErrorBody.describe('Payload Too Large: the body is over 64 KiB'),
  415: ErrorBody.describe('Unsupported Media Type: send the body as application/json'),
};

/** Routes with a path parameter: one longer than the router allows. */
export const paramErrors = {
  414: ErrorBody.describe('URI Too Long: a path parameter is over 100 characters'),
};
