/**
 * The agent address a person types: tolerant of a missing scheme and a trailing slash, strict about
 * what could not be an agent (other schemes, credentials in the URL, queries).
 */
import { PortholeError } from '../../bridge/contract.js';

export interface AgentBase {
  /** normalised, shown in messages: scheme://host[:port][/prefix] without trailing slash */
  display: string;
  /** builds the absolute URL of an API route (routes start with "/") */
  url(route: string): string;
}

function invalid(input: string, why: string): PortholeError {
  return new PortholeError('invalid_agent_url', `"${input}" is not an agent address: ${why}. Enter it like http://agent.example:7380.`);
}

export function parseAgentUrl(input: string): AgentBase {
  const trimmed = input.trim();
  if (!trimmed) throw new PortholeError('invalid_agent_url', 'Enter the address of the Porthole agent, like http://agent.example:7380.');
  // "host:port" is what people copy from a terminal; assume plain HTTP like the agent prints.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(trimmed, 'it is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(trimmed, `it must start with http:// or https://, not ${url.protocol}//`);
  if (!url.hostname) throw invalid(trimmed, 'it has no host name');
  if (url.username || url.password) throw invalid(trimmed, 'it must not contain a user name or password (sign in below instead)');
  if (url.search || url.hash) throw invalid(trimmed, 'it must not contain "?" or "#" parts');
  const prefix = url.pathname.replace(/\/+$/, '');
  const display = `${url.origin}${prefix}`;
  return { display, url: (route) => `${display}${route}` };
}
