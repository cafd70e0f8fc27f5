/**
 * What a person types goes into DNs and search filters only through these (pure), so a user name like
 * `*)(uid=*` or `admin,ou=x` is a name, never LDAP syntax.
 */

/** A value inside a DN attribute (RFC 4514 section 2.4). */
export function escapeDnValue(value: string): string {
  let out = '';
  for (const [i, ch] of [...value].entries()) {
    if (ch === '\0') out += '\\00';
    else if (',+"\\<>;='.includes(ch)) out += `\\${ch}`;
    else if ((i === 0 && (ch === ' ' || ch === '#')) || (i === [...value].length - 1 && ch === ' ')) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** A value inside a search filter (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL as hex escapes. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Pure: a configured template with `{user}` filled in, escaped for where it goes. */
export const fillTemplate = (template: string, user: string, escape: (v: string) => string) => template.split('{user}').join(escape(user));
