/**
 * The one URL check behind every URL decision (a `next` after login, a forward-auth path or host, the
 * forward-auth settings). Each value is parsed once, with WHATWG URL semantics, into one canonical form;
 * anything a browser, a proxy or a backend could read two ways is refused, never guessed.
 */

const PLACEHOLDER = "https://canonical.invalid";
const UNRESERVED = /^[A-Za-z0-9._~-]$/;
// Printable ASCII without space, backslash, `;` (path parameters) and `#`: everything else is refused.
const PATH_CHARS = /^[!$%&'()*+,\-./0-9:=?@A-Z[\]^_`a-z{|}~"<>]*$/;
// Host names as proxies pass them: letters (any script, for IDN), digits, dots, hyphens, an optional
// port; or a bracketed IPv6 address. No `%`, `@`, `\`, `/` (WHATWG would decode or split them).
const HOST = /^(?:[\p{L}\p{N}\p{M}.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/iu;

export type PathResult =
  | {
      /** The path with unreserved escapes decoded and dot segments resolved. */
      path: string;
      /** The path as written (unreserved escapes decoded, dot segments kept), when it has dot segments. */
      literal?: string;
      /** `?query` or "". */
      search: string;
    }
  | { refused: string };

/**
 * A request target's path (`/a/b?q`, as X-Forwarded-Uri or X-Original-URI carry it) in canonical form:
 * `%XX` of an unreserved character decoded (`%61` → `a`), other escapes upper-cased, dot segments
 * resolved. Refused (with the reason): not starting with `/`, `//` (an empty segment), `\`, `;`,
 * `#`, control or non-ASCII characters, spaces, encoded `/`, `\`, `;`, `%` (double encoding), NUL or
 * control characters, malformed escapes, escapes that are not UTF-8 (overlong `%c0%af`).
 */
export function canonicalPath(target: string): PathResult {
  const q = target.indexOf("?");
  const raw = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? "" : target.slice(q);
  if (!raw.startsWith("/")) return { refused: "not an absolute path" };
  if (!PATH_CHARS.test(raw)) return { refused: "a character that is not allowed in a path" };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0020\u007f-\uffff#]/.test(search)) return { refused: "a character not allowed in a query" };
  let decoded = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== "%") {
      decoded += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/i.test(hex)) return { refused: "a malformed %-escape" };
    const code = Number.parseInt(hex, 16);
    const char = String.fromCharCode(code);
    if (code < 0x20 || code === 0x7f) return { refused: "an encoded control character" };
    if (char === "/" || char === "\\") return { refused: "an encoded slash or backslash" };
    if (char === "%") return { refused: "an encoded %, i.e. double encoding" };
    if (char === ";") return { refused: "an encoded ;" };
    decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i += 2;
  }
  if (decoded.includes("//")) return { refused: "an empty path segment (//)" };
  try {
    decodeURIComponent(decoded);
  } catch {
    return { refused: "escapes that are not UTF-8" };
  }
  const segments = decoded.split("/");
  const resolved: string[] = [];
  for (const segment of segments.slice(1)) {
    if (segment === "..") resolved.pop();
    else if (segment !== ".") resolved.push(segment);
  }
  // A last `.` or `..` leaves a directory: `/a/b/..` is `/a/`.
  const last = segments[segments.length - 1];
  if (last === "." || last === "..") resolved.push("");
  const path = `/${resolved.join("/")}`;
  const dotted = segments.some((s) => s === "." || s === "..");
  return dotted ? { path, literal: decoded, search } : { path, search };
}

/**
 * The host a request names, as rules compare it: lower-case, IDN as punycode, without one trailing dot
 * and without the default port of `proto` (:443 for https, :80 for http). Undefined when it is not a
 * plain host name or address (userinfo, `%`, slashes, an empty name).
 */
export function canonicalHost(host: string, proto: string): string | undefined {
  if (!HOST.test(host)) return undefined;
  const scheme = proto.toLowerCase() === "http" ? "http" : "https";
  let url: URL;
  try {
    url = new URL(`${scheme}://${host}`);
  } catch {
    return undefined;
  }
  const name = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  if (!name || name.endsWith(".") || name.startsWith(".")) return undefined;
  return url.port ? `${name}:${url.port}` : name;
}

/**
 * An http(s) URL in canonical form (WHATWG serialisation), or undefined when it could be read two ways:
 * anything but `http://` or `https://` followed by a host, userinfo (even an empty `@`), `%` or a
 * backslash in the authority, or a path `canonicalPath` refuses.
 */
export function canonicalAbsoluteUrl(value: string): URL | undefined {
  const match = /^(https?):\/\/([^/?#]*)([/?#].*)?$/is.exec(value);
  if (!match) return undefined;
  const authority = match[2] as string;
  if (!authority || /[@%\\]/.test(authority)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (!url.hostname || url.username || url.password) return undefined;
  const rest = match[3] ?? "/";
  const path = rest.startsWith("/") ? rest.replace(/#.*$/s, "") : `/${rest.replace(/#.*$/s, "")}`;
  const canonical = canonicalPath(path);
  return "refused" in canonical ? undefined : url;
}

/** `scheme://host[:port]` of an http(s) origin written as one (no path, query or fragment). */
export function canonicalOrigin(value: string): string | undefined {
  const url = canonicalAbsoluteUrl(value);
  if (!url || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return undefined;
  if (!/^https?:\/\/[^/]+\/?$/i.test(value)) return undefined;
  return url.origin;
}

/**
 * A return address after login, in canonical form: a path on this site (`/x?y`, returned as path, query
 * and fragment) or an http(s) URL on one of `origins` (returned serialised). Undefined for anything a
 * browser could read another way: `//` or `/\` anywhere, backslashes, control characters, CRLF, tabs,
 * encoded `/` `\` `%` (`%2f`, `%5c`, `%252f`), other schemes, an empty host, userinfo, other origins.
 * Dot segments are resolved before any check (`/.//evil` is refused, not turned into `//evil`).
 */
export function canonicalNext(value: string, origins: readonly string[]): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0020\u007f\\]/.test(value)) return undefined;
  if (value.startsWith("/")) {
    const hash = value.indexOf("#");
    const target = hash < 0 ? value : value.slice(0, hash);
    if (target.startsWith("//") || "refused" in canonicalPath(target)) return undefined;
    const url = new URL(value, PLACEHOLDER);
    if (url.origin !== PLACEHOLDER || url.pathname.startsWith("//")) return undefined;
    return url.pathname + url.search + url.hash;
  }
  const url = canonicalAbsoluteUrl(value);
  if (!url || !origins.includes(url.origin)) return undefined;
  return url.href;
}
