import { addressKey } from "../ratelimit/client-key.js";
import type { HashClient } from "./password.js";
import type { AuthMethod, SessionAuth, StoredSessionAuth } from "./session-auth.js";

/** The browser session a request came with; the routes build it from the request. */
export interface SessionPort {
  /** The session id; a new one after `logIn`. */
  readonly id: string;
  /** Who is logged in on it. */
  readonly user: Express.User | undefined;
  /** What the sign-in recorded on it (absent when nobody is logged in). */
  readonly auth?: StoredSessionAuth;
  /** Gives the session a new id (fixation) and logs `user` in on it with `auth`. */
  logIn(user: Express.User, auth: SessionAuth): Promise<void>;
  /**
   * Records that the person just authenticated again on this session with `amr` (step-up): `authAt`
   * becomes now and `amr` gains these methods. Same session id: the same person, no new privilege.
   */
  reauthenticated(amr: AuthMethod[]): void;
  /** Deletes the session and clears its cookie. */
  destroy(): Promise<void>;
  /** This browser's device cookie; absent where there is no browser to hold one. */
  readonly device?: DevicePort;
  /** A sign-in waiting for its second factor on this browser; absent where there is no browser session. */
  readonly pendingSignIn?: PendingSignInPort;
}

/**
 * A person who passed the first step of a sign-in (a password) and must still give a second factor: kept
 * on the browser's session, never a login by itself.
 */
export interface PendingSignIn {
  userId: string;
  /** The credential epoch of the row the first step was checked against: a change since voids it. */
  epoch: number;
  /** How the first step authenticated the person. */
  amr: AuthMethod[];
  /** The sign-in provider that vouched for the person in the first step, if one did. */
  provider?: string;
  /** ms since epoch. */
  expiresAt: number;
}

/** The pending sign-in of this browser's session, as a value. */
export interface PendingSignInPort {
  readonly value: PendingSignIn | undefined;
  set(value: PendingSignIn | undefined): void;
}

/** The browser's device cookie (device-cookie.ts), as values. */
export interface DevicePort {
  /** The value the browser sent, if any. */
  readonly value: string | undefined;
  /** Sets (or renews) the cookie. */
  set(value: string): void;
}

/** Where a request came from, as values. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
  /** HTTPS as Express sees it (after `trust proxy`). */
  secure: boolean;
  /** A client with no cookie jar, given a bearer token: its session is listed as an app. */
  app?: boolean;
}

export interface AccountContext {
  session: SessionPort;
  client: ClientInfo;
  /** Gives back what the per-address limit counted for this request; never throws. */
  refundAddress(): Promise<void>;
  /**
   * Counts the per-address limit when the route left it to the handler (the request carried a device
   * cookie, not yet verified); throws its 429. Resolves at once when the route counted it already.
   */
  enforceAddress(): Promise<void>;
}

/** Hashes are capped per client address, so one client cannot fill the hash queue. */
export function hashClient(client: ClientInfo, ipv6PrefixBits: number): HashClient {
  return { client: addressKey(client.ip, ipv6PrefixBits) };
}
