/**
 * The value of cookie `name` in a Cookie header, read as express-session reads its own cookie (the
 * `cookie` package's `parse`), so every reader of one header agrees on what it holds:
 * - the first pair with that name wins (a browser sends the most specific path first);
 * - spaces around the name and the value are ignored, and one pair of surrounding double quotes dropped;
 * - a value with `%` is URL-decoded (`res.cookie` encodes), a malformed escape leaves it as sent.
 * Undefined when the header has no such cookie.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at === -1 || pair.slice(0, at).trim() !== name) continue;
    let value = pair.slice(at + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!value.includes("%")) return value;
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}
