import { domainToUnicode } from "node:url";

/**
 * The one normal form of an email address, so look-alikes cannot become two accounts (or pass a rule
 * meant for another): trimmed, Unicode NFC, then lower-cased with the simple mapping (no full case
 * folding: `straße` and `strasse` stay two addresses), the domain in IDNA ASCII (punycode). Refused rather
 * than guessed: invisible characters anywhere (zero-width, bidi controls, fillers, variation selectors),
 * compatibility forms (fullwidth `ｅ`, ligatures, circled letters: what NFKC would change), and a domain
 * label that mixes scripts (`pаypal`, a Cyrillic `а` among Latin letters).
 */
export type CanonicalEmail = { ok: true; email: string } | { ok: false; reason: string };

// Format characters (zero-width space/joiners, bidi controls, soft hyphen, BOM), controls, separators,
// fillers that render as nothing, the combining grapheme joiner and variation selectors.
const INVISIBLE =
  /[\p{Cf}\p{Cc}\p{Z}\u115F\u1160\u17B4\u17B5\u2800\u3164\uFFA0]|\u034F|[\u180B-\u180F]|[\uFE00-\uFE0F]/u;
const VARIATION_SELECTORS_SUPPLEMENT = /[\u{E0100}-\u{E01EF}]/u;
const DOMAIN_CHARS = /^[\p{L}\p{M}\p{N}.-]+$/u;
const ASCII_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Scripts a domain label may not mix; Common and Inherited (digits, `-`, combining marks) go with any. */
const SCRIPTS = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Syriac",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Cherokee",
  "Khmer",
  "Mongolian",
  "Hiragana",
  "Katakana",
  "Bopomofo",
  "Han",
].map((name) => [name, new RegExp(`\\p{Script=${name}}`, "u")] as const);

/** Combinations one writing system uses together (UTS #39 "highly restrictive"), each with Latin. */
const ALLOWED_MIXES = [
  new Set(["Latin", "Han", "Hiragana", "Katakana"]),
  new Set(["Latin", "Han", "Bopomofo"]),
  new Set(["Latin", "Han", "Hangul"]),
];

function scriptsOf(label: string): Set<string> {
  const found = new Set<string>();
  for (const char of label) {
    if (!/\p{L}/u.test(char)) continue;
    const script = SCRIPTS.find(([, pattern]) => pattern.test(char));
    found.add(script ? script[0] : `other:${char}`);
  }
  return found;
}

function mixesScripts(label: string): boolean {
  const scripts = scriptsOf(label);
  if (scripts.size <= 1) return false;
  return !ALLOWED_MIXES.some((allowed) => [...scripts].every((s) => allowed.has(s)));
}

/** The domain in IDNA ASCII, or undefined when it is not a host name (WHATWG URL host parsing). */
function toAscii(domain: string): string | undefined {
  try {
    const host = new URL(`http://${domain}/`).hostname;
    const labels = host.split(".");
    if (host.length > 253 || labels.length < 2 || !labels.every((l) => ASCII_LABEL.test(l))) return undefined;
    return host;
  } catch {
    return undefined;
  }
}

/** The address in its normal form, or why it is refused. */
export function canonicalEmail(input: string): CanonicalEmail {
  const nfc = input.trim().normalize("NFC");
  if (INVISIBLE.test(nfc) || VARIATION_SELECTORS_SUPPLEMENT.test(nfc)) {
    return { ok: false, reason: "email must not contain invisible characters" };
  }
  if (nfc.normalize("NFKC") !== nfc) {
    return {
      ok: false,
      reason: "email must not contain fullwidth or other compatibility forms of letters (write them plainly)",
    };
  }
  const at = nfc.lastIndexOf("@");
  if (at <= 0 || at === nfc.length - 1) return { ok: false, reason: "email must be a valid email address" };
  const local = nfc.slice(0, at).toLowerCase();
  const domain = nfc.slice(at + 1).toLowerCase();
  if (!DOMAIN_CHARS.test(domain)) return { ok: false, reason: "email must be a valid email address" };
  // A label given in punycode (xn--…) is judged by what it displays as.
  const shown = domainToUnicode(domain) || domain;
  if (INVISIBLE.test(shown) || shown.normalize("NFKC") !== shown.normalize("NFC")) {
    return { ok: false, reason: "email must not contain invisible characters" };
  }
  if (shown.split(".").some(mixesScripts)) {
    return { ok: false, reason: "email domain must not mix scripts within a label (look-alike letters)" };
  }
  const ascii = toAscii(domain);
  if (!ascii) return { ok: false, reason: "email must be a valid email address" };
  return { ok: true, email: `${local}@${ascii}` };
}
