/**
 * Log lines must not carry tokens: a connect token in a stream URL opens a desktop for a minute.
 * A hostile or careless client can spell the parameter many ways (`;token=`, `%74oken=`,
 * `access_token=`, an encoded `&` or `=`), so every `name=value` in the URL whose name, once
 * percent-decoded, ends in "token" has its value replaced, up to the next literal `&`, `;`, `?` or
 * `#`. Over-redacting a harmless parameter is the cheap mistake; the other one is not.
 */

const REDACTED = '[redacted]';
/** Where a parameter name can start: after `?`, `&`, `;`, `#`, `/` or their percent-encoded forms. */
const SEPARATORS = /[?&;#/]|%(?:26|3b|3f|23|2f)/gi;

function percentDecode(text: string): string {
  return text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The name as the server, or a proxy decoding once more, would read it; lower-case. */
function decodedName(raw: string): string {
  let name = raw.replace(/\+/g, ' ');
  for (let i = 0; i < 4; i++) {
    const next = percentDecode(name);
    if (next === name) break;
    name = next;
  }
  // An encoded separator inside the name ("x%2526token") splits it once decoded.
  return (name.split(/[?&;#/]/).pop() ?? '').trim().toLowerCase();
}

export function isSecretParameter(rawName: string): boolean {
  return decodedName(rawName).endsWith('token');
}

/** Linear in the URL's length: it is logged for every request, and a hostile one can be 16 KiB of "=". */
export function redactUrl(url: string): string {
  // Ends of separators, in order; `next` walks along them as the "=" signs do.
  const starts = [...url.matchAll(SEPARATORS)].map((m) => m.index + m[0].length);
  let next = 0;
  const equals = /=|%3d/gi;
  let out = '';
  let copied = 0;
  for (let m = equals.exec(url); m; m = equals.exec(url)) {
    while (next < starts.length && starts[next]! <= m.index) next++;
    const nameStart = next > 0 ? starts[next - 1]! : 0;
    // Only the name's end decides "ends in token"; 64 characters of it bound the work per "=".
    if (!isSecretParameter(url.slice(Math.max(nameStart, m.index - 64), m.index))) continue;
    const valueStart = m.index + m[0].length;
    const rest = url.slice(valueStart).search(/[&;?#]/);
    const valueEnd = rest === -1 ? url.length : valueStart + rest;
    out += url.slice(copied, valueStart) + REDACTED;
    copied = valueEnd;
    equals.lastIndex = valueEnd;
  }
  return out + url.slice(copied);
}
