import { canonicalHost, canonicalPath } from "../lib/canonical-url.js";
import { SCOPE_PATTERN } from "./tokens.js";

/**
 * One FORWARD_AUTH_RULES entry: `[mfa:]host[/path-prefix][=who]`. `host` is a host name (with port when
 * the proxy's Host carries one, never a default port) or `*`; `who` is `|`-separated emails, `@domain`
 * suffixes and `group:NAME`s, plus `scope:NAME` entries a personal access token must carry one of (a
 * person signed in with a session passes them as their own); no `who` (or only scopes): any logged-in
 * user. `mfa:` admits only sessions authenticated with a second factor.
 */
export interface ForwardAuthRule {
  host: string;
  pathPrefix: string;
  /** Absent: every user. */
  who?: string[];
  /** Only sessions whose `amr` holds two kinds of factor. */
  mfa?: boolean;
}

/**
 * Who is asking: the address once confirmed (undefined otherwise), the user's groups, and whether the
 * session was authenticated with a second factor.
 */
export interface Subject {
  email: string | undefined;
  groups?: readonly string[];
  /** A personal access token's scopes; undefined for a session (its person passes every scope entry). */
  scopes?: readonly string[];
  secondFactor?: boolean;
}

/** What `/auth/verify` answers for one request: pass, refuse the user, or refuse an ambiguous URL. */
export type Decision = "allowed" | "forbidden" | "ambiguous_url" | "second_factor_required";

const RULE = /^(?:(mfa):)?(\*|[^/=\s]+)(\/[^\s=]*)?(?:=(.+))?$/i;

/** Whether any rule names emails or domains (those admit verified addresses only). */
export const namesAddresses = (rules: ForwardAuthRule[]): boolean =>
  rules.some((rule) => rule.who?.some((w) => !w.startsWith(GROUP_PREFIX) && !w.startsWith(SCOPE_PREFIX)));

const GROUP_PREFIX = "group:";
const SCOPE_PREFIX = "scope:";
const WHO = /^(?:[^@\s]*@[^@\s]+|group:[a-z0-9][a-z0-9._-]{0,62})$/;
const validWho = (w: string) =>
  w.startsWith(SCOPE_PREFIX) ? SCOPE_PATTERN.test(w.slice(SCOPE_PREFIX.length)) : WHO.test(w);

/** Parses the comma-separated rules; every bad entry is named in `problems`. */
export function parseRules(value: string, problems: string[]): ForwardAuthRule[] {
  const rules: ForwardAuthRule[] = [];
  for (const entry of value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = RULE.exec(entry);
    const who = match?.[4]
      ?.split("|")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    const host = match && (match[2] === "*" ? "*" : ruleHost(match[2] as string));
    const prefix = match?.[3] ?? "/";
    const canonical = canonicalPath(prefix);
    if (!match || !host || who?.some((w) => !validWho(w))) {
      problems.push(
        `FORWARD_AUTH_RULES: each entry must be [mfa:]host[/path-prefix][=email|@domain|group:NAME|scope:NAME|...], e.g. admin.example.com/=@example.com (got "${entry.slice(0, 80)}")`,
      );
      continue;
    }
    if ("refused" in canonical || canonical.literal || canonical.search || canonical.path !== prefix) {
      const hint = "refused" in canonical ? canonical.refused : `write it as ${canonical.path}`;
      problems.push(
        `FORWARD_AUTH_RULES: the path prefix of "${entry.slice(0, 80)}" is not in canonical form (${hint}); requests are compared after canonicalisation`,
      );
      continue;
    }
    rules.push({ host, pathPrefix: prefix, who, ...(match[1] ? { mfa: true } : {}) });
  }
  return rules;
}

/** A rule's host in the form requests are compared in; undefined with a default port or a bad name. */
function ruleHost(value: string): string | undefined {
  if (/:(80|443)$/.test(value)) return undefined;
  return canonicalHost(value, "https");
}

/**
 * What `/auth/verify` answers for a user at `host` (canonical, see canonicalHost; undefined when the
 * request's host was not a plain name) and `target` (the forwarded path and query as the proxy sent
 * it). With no rules: allowed. Otherwise the most specific rule that matches decides (a host with its
 * port, then a host at any port, then `*`; then the longest path prefix, on segment boundaries), and no
 * match is a no. The path is canonicalised first (canonicalPath); one it refuses, or a host that is not
 * a plain name, is `ambiguous_url` whenever the rules could tell it apart. A path is allowed only when
 * every reading a backend could make of it is allowed: case-sensitive and case-insensitive, with
 * trailing dots and spaces of each segment kept and removed (Windows file systems drop them), and,
 * with dot segments, both resolved and as written. A subject the rules admit through an `mfa:` rule
 * without `secondFactor` is `second_factor_required`.
 */
export function decide(
  rules: ForwardAuthRule[],
  host: string | undefined,
  target: string,
  who: Subject | string | undefined,
): Decision {
  const subject = typeof who === "object" ? who : { email: who };
  if (rules.length === 0) return "allowed";
  if (host === undefined)
    return rules.some((r) => r.host !== "*") ? "ambiguous_url" : decideAt(rules, target, subject);
  return decideAt(
    rules.filter((rule) => hostMatches(rule.host, host)),
    target,
    subject,
  );
}

function decideAt(candidates: ForwardAuthRule[], target: string, subject: Subject): Decision {
  const canonical = canonicalPath(target);
  let paths: string[];
  if ("refused" in canonical) {
    if (candidates.some((rule) => rule.pathPrefix !== "/")) return "ambiguous_url";
    paths = ["/"];
  } else {
    paths = canonical.literal ? [canonical.path, canonical.literal] : [canonical.path];
  }
  const readings = new Set(paths.flatMap((p) => [p, p.replace(TRAILING_DOTS_AND_SPACES, "$1")]));
  let needsSecondFactor = false;
  for (const path of readings) {
    for (const fold of [false, true]) {
      const best = mostSpecific(candidates, path, fold);
      if (!best || !admits(best, subject)) return "forbidden";
      if (best.mfa && !subject.secondFactor) needsSecondFactor = true;
    }
  }
  return needsSecondFactor ? "second_factor_required" : "allowed";
}

// `admin.` and `admin%20` name `admin` on Windows; `.` and `..` segments are left to dot resolution.
const TRAILING_DOTS_AND_SPACES = /(?<=[^/.])(?:\.|%20)+(\/|$)/g;

/** A rule for `app.example.com` covers every port of it (the client chooses the port in Host). */
function hostMatches(ruleHost: string, host: string): boolean {
  if (ruleHost === "*" || ruleHost === host) return true;
  return !PORT.test(ruleHost) && host.replace(PORT, "") === ruleHost;
}

const PORT = /:\d+$/;

/** Whether `email` may reach `host` + `target` (see decide). */
export function isAllowed(
  rules: ForwardAuthRule[],
  host: string | undefined,
  target: string,
  who: Subject | string | undefined,
): boolean {
  return decide(rules, host, target, who) === "allowed";
}

function mostSpecific(rules: ForwardAuthRule[], path: string, fold: boolean): ForwardAuthRule | undefined {
  let best: ForwardAuthRule | undefined;
  for (const rule of rules) {
    if (!pathMatches(rule.pathPrefix, path, fold)) continue;
    if (!best || specificity(rule) > specificity(best)) best = rule;
  }
  return best;
}

/**
 * `email` is the user's address only once its owner confirmed it (undefined otherwise): a rule naming
 * emails or domains admits nobody else, since anyone can register an address they do not own. Groups
 * are given by an admin, so they admit whatever the address.
 */
function admits(rule: ForwardAuthRule, { email, groups = [], scopes }: Subject): boolean {
  if (!rule.who) return true;
  const wanted = rule.who.filter((w) => w.startsWith(SCOPE_PREFIX)).map((w) => w.slice(SCOPE_PREFIX.length));
  if (scopes !== undefined && wanted.length > 0 && !wanted.some((w) => scopes.includes(w))) return false;
  const people = rule.who.filter((w) => !w.startsWith(SCOPE_PREFIX));
  if (people.length === 0) return true;
  const e = email?.toLowerCase();
  return people.some((w) => {
    if (w.startsWith(GROUP_PREFIX)) return groups.includes(w.slice(GROUP_PREFIX.length));
    if (e === undefined) return false;
    return w.startsWith("@") ? e.endsWith(w) : e === w;
  });
}

/** `/admin` matches `/admin` and `/admin/x`, never `/administrator`; `fold` compares case-insensitively. */
function pathMatches(prefix: string, path: string, fold: boolean): boolean {
  if (prefix === "/") return true;
  const p = fold ? prefix.toLowerCase() : prefix;
  const s = fold ? path.toLowerCase() : path;
  if (s === p) return true;
  const base = p.endsWith("/") ? p : `${p}/`;
  return s.startsWith(base);
}

const specificity = (rule: ForwardAuthRule) =>
  (rule.host === "*" ? 0 : PORT.test(rule.host) ? 200_000 : 100_000) + rule.pathPrefix.length;
