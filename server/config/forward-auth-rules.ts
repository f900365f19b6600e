/**
 * One FORWARD_AUTH_RULES entry: `host[/path-prefix][=who]`. `host` is a host name (with port when the
 * proxy's Host carries one) or `*`; `who` is `|`-separated emails and `@domain` suffixes; no `who`
 * means any logged-in user.
 */
export interface ForwardAuthRule {
  host: string;
  pathPrefix: string;
  /** Absent: every user. */
  who?: string[];
}

const RULE = /^(\*|[a-z0-9.-]+(?::\d{1,5})?)(\/[^\s=]*)?(?:=(.+))?$/i;

/** Whether any rule names emails or domains (those admit verified addresses only). */
export const namesAddresses = (rules: ForwardAuthRule[]): boolean => rules.some((rule) => rule.who);

/** Parses the comma-separated rules; every bad entry is named in `problems`. */
export function parseRules(value: string, problems: string[]): ForwardAuthRule[] {
  const rules: ForwardAuthRule[] = [];
  for (const entry of value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = RULE.exec(entry);
    const who = match?.[3]
      ?.split("|")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    if (!match || who?.some((w) => !/^[^@\s]*@[^@\s]+$/.test(w))) {
      problems.push(
        `FORWARD_AUTH_RULES: each entry must be host[/path-prefix][=email|@domain|...], e.g. admin.example.com/=@example.com (got "${entry.slice(0, 80)}")`,
      );
      continue;
    }
    rules.push({ host: (match[1] as string).toLowerCase(), pathPrefix: match[2] ?? "/", who });
  }
  return rules;
}

/**
 * Whether a user may reach `host` + `path`: with no rules, yes; otherwise the most specific rule
 * that matches (a named host before `*`, then the longest path prefix) decides, and no match is a no.
 * `verifiedEmail` is the user's address only once its owner confirmed it: a rule naming emails or
 * domains admits nobody else, since anyone can register an address they do not own.
 */
export function isAllowed(
  rules: ForwardAuthRule[],
  host: string,
  path: string,
  verifiedEmail: string | undefined,
): boolean {
  if (rules.length === 0) return true;
  const h = host.toLowerCase();
  let best: ForwardAuthRule | undefined;
  for (const rule of rules) {
    if (rule.host !== "*" && rule.host !== h) continue;
    if (!pathMatches(rule.pathPrefix, path)) continue;
    if (!best || specificity(rule) > specificity(best)) best = rule;
  }
  if (!best) return false;
  if (!best.who) return true;
  if (verifiedEmail === undefined) return false;
  const e = verifiedEmail.toLowerCase();
  return best.who.some((w) => (w.startsWith("@") ? e.endsWith(w) : e === w));
}

/** `/admin` matches `/admin`, `/admin/x` and `/admin?q`, never `/administrator`. */
function pathMatches(prefix: string, path: string): boolean {
  if (prefix === "/" || path === prefix) return true;
  const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return path.startsWith(base) || path.startsWith(`${prefix}?`);
}

const specificity = (rule: ForwardAuthRule) => (rule.host === "*" ? 0 : 100_000) + rule.pathPrefix.length;
