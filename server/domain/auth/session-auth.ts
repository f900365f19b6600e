/**
 * How a person proved who they are: the values of RFC 8176 section 2, plus `fed` (a provider's assertion,
 * as Microsoft Entra ID reports a federated sign-in) and `trusted_device` (a browser the person trusted
 * after giving a second factor there stood in for it; neither kind of factor), neither in the IANA registry.
 */
export type AuthMethod =
  | "face"
  | "fed"
  | "fpt"
  | "geo"
  | "hwk"
  | "iris"
  | "kba"
  | "mca"
  | "mfa"
  | "otp"
  | "pin"
  | "pwd"
  | "rba"
  | "retina"
  | "sc"
  | "sms"
  | "swk"
  | "tel"
  | "trusted_device"
  | "user"
  | "vbm"
  | "wia";

/** What a sign-in records in the session, for the session list, the timeouts and how it was authenticated. */
export interface SessionAuth {
  /** When the session was created (ms since epoch); the absolute timeout counts from it. */
  loginAt: number;
  ip: string;
  userAgent: string;
  /** The user's credential epoch when the person was authenticated. */
  epoch: number;
  /** How the person authenticated, e.g. `["pwd"]`, `["pwd", "otp"]`, `["hwk", "user"]`, `["fed"]`. */
  amr: AuthMethod[];
  /** When the person last authenticated on this session (ms since epoch): `loginAt` at a sign-in. */
  authAt: number;
  /** The sign-in provider that vouched for the person (`amr: ["fed"]`); forward auth passes it on. */
  provider?: string;
  /** `app`: a client holding a bearer token instead of a cookie (a mobile app, a CLI); absent: a browser. */
  client?: "app";
}

/**
 * A session's auth data as stored. Sessions written before a field existed lack it: `epoch` counts as 0,
 * `amr` as `["pwd"]`, `authAt` as `loginAt`. `lastSeenAt` is set by the activity tracking.
 */
export type StoredSessionAuth = Omit<SessionAuth, "epoch" | "amr" | "authAt"> & {
  epoch?: number;
  amr?: AuthMethod[];
  authAt?: number;
  lastSeenAt?: number;
};

/** How a stored session was authenticated; one without `amr` comes from a password login. */
export function sessionAmr(auth: StoredSessionAuth): readonly AuthMethod[] {
  return auth.amr ?? ["pwd"];
}

/** When the person last authenticated on a stored session (ms since epoch). */
export function sessionAuthAt(auth: StoredSessionAuth): number {
  return auth.authAt ?? auth.loginAt;
}

/** Whether the person authenticated on this session within `maxAgeSeconds` of `now` (ms since epoch). */
export function isRecentlyAuthenticated(
  auth: StoredSessionAuth | undefined,
  maxAgeSeconds: number,
  now = Date.now(),
): boolean {
  if (!auth) return false;
  return now - sessionAuthAt(auth) <= maxAgeSeconds * 1000;
}

/** Something the person has: a code generator, a security key, a phone. */
const POSSESSION: ReadonlySet<AuthMethod> = new Set(["otp", "hwk", "swk", "sms", "tel", "sc"]);
/** Something the person knows or is. */
const KNOWLEDGE_OR_INHERENCE: ReadonlySet<AuthMethod> = new Set([
  "pwd",
  "pin",
  "kba",
  "user",
  "face",
  "fpt",
  "iris",
  "retina",
  "vbm",
]);

/**
 * Whether `amr` names two kinds of factor (a password and a code; a passkey verified with the person's
 * PIN or fingerprint, `["hwk", "user"]`), or says so itself (`mfa`).
 */
export function isMultiFactor(amr: readonly AuthMethod[]): boolean {
  if (amr.includes("mfa")) return true;
  return amr.some((m) => POSSESSION.has(m)) && amr.some((m) => KNOWLEDGE_OR_INHERENCE.has(m));
}
