import { createHash } from "node:crypto";

/** What the index knows about one session of a user; times in ms since epoch. */
export interface SessionIndexEntry {
  sid: string;
  createdAt: number;
  lastSeenAt: number;
  ip: string;
  userAgent: string;
  /** `app` for a bearer session (absent: a browser's cookie session). */
  client?: "app";
}

/**
 * Which sessions each user has, so they can be listed and revoked without scanning the keyspace.
 * Implementations: Redis (shared by every instance) and in-process memory (embedded mode).
 */
export interface SessionIndex {
  add(userId: string, entry: SessionIndexEntry): Promise<void>;
  /** Records activity; does nothing for a session no longer in the index. */
  touch(userId: string, sid: string, lastSeenAt: number): Promise<void>;
  remove(userId: string, sids: string[]): Promise<void>;
  /** The user's live sessions; entries whose session has expired are pruned on the way. */
  list(userId: string): Promise<SessionIndexEntry[]>;
}

/**
 * A freshly added entry may be listed before express-session has written the session itself (it saves
 * at the end of the request); entries younger than this are never pruned.
 */
export const PRUNE_GRACE_MS = 10_000;

const PUBLIC_ID_BYTES = 16;

/**
 * The id shown to clients: a one-way hash of the session id, so it names a session without being usable
 * as (or revealing) its cookie value. No secret is involved: the session id is 192 random bits, so a key
 * would add nothing, and any key taken from SESSION_SECRET would change every id shown to users when the
 * secret rotates (adding a new first secret, and later dropping the last one).
 */
export function publicSessionId(sid: string): string {
  return createHash("sha256")
    .update("session-public-id:")
    .update(sid)
    .digest()
    .subarray(0, PUBLIC_ID_BYTES)
    .toString("base64url");
}
