import type { Cache } from "../cache/cache.js";
import type { GroupRepository } from "./groups.js";
import type { UserLookup } from "./passport.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

const MAX_ID_LENGTH = 64; // characters; ids are UUIDs, anything longer is not a user

/** What the cache keeps about a user: public fields only, never the password hash. */
interface CachedUser {
  id: string;
  email: string;
  createdAt: string; // ISO 8601
  /** Read on every request to check the session's epoch, so it costs no extra round trip. */
  credentialEpoch: number;
  /** For `/auth/me` and the account page. */
  emailVerified: boolean;
  /**
   * For `requireGroup()` and forward-auth rules. A copy only: the admin console reads membership from the
   * database, so a cache entry someone managed to write cannot open it.
   */
  groups: string[];
}

export interface UserCache {
  /** Passport's per-request lookup, served from category `users`. */
  lookup: UserLookup;
  /** Drops the cached copy of one user on every instance; call it after any change to that user. */
  invalidateUser(id: string): Promise<void>;
  /** The repository with every write followed by `invalidateUser`, so callers cannot forget it. */
  repository: UserRepository;
  /** Group changes, each followed by `invalidateUser`. */
  groups: GroupRepository;
}

/** Puts the cache between passport's session lookup and the database. */
export function createUserCache(deps: {
  cache: Cache;
  users: UserRepository;
  groups: GroupRepository;
}): UserCache {
  const { cache, users, groups } = deps;
  const invalidateUser = (id: string) => cache.delete("users", id);

  const lookup: UserLookup = {
    async findById(id) {
      if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
      const load = async (): Promise<CachedUser | null> => {
        const user = await users.findById(id);
        // A missing user is not cached (null): a deleted account must not linger, a new one appear at once.
        // A disabled one is missing too: its sessions are no longer accepted.
        if (!user || user.disabledAt) return null;
        const names = await groups.groupsOf(user.id);
        return {
          id: user.id,
          email: user.email,
          createdAt: user.createdAt.toISOString(),
          credentialEpoch: user.credentialEpoch,
          emailVerified: user.emailVerifiedAt !== null,
          groups: names,
        };
      };
      let cached = await cache.getOrSet<CachedUser | null>("users", id, load);
      // An entry written before the epoch was cached cannot vouch for it: read the row itself.
      if (
        cached &&
        (typeof cached.credentialEpoch !== "number" ||
          typeof cached.emailVerified !== "boolean" ||
          !Array.isArray(cached.groups))
      ) {
        cached = await load();
      }
      return cached
        ? {
            id: cached.id,
            email: cached.email,
            createdAt: new Date(cached.createdAt),
            credentialEpoch: cached.credentialEpoch,
            emailVerified: cached.emailVerified,
            groups: cached.groups,
          }
        : undefined;
    },
  };

  /** A write to one user, then that user's cached copy dropped everywhere (not when the write failed). */
  const thenInvalidate = async <T>(id: string, write: Promise<T>): Promise<T> => {
    const result = await write;
    await invalidateUser(id);
    return result;
  };

  const repository: UserRepository = {
    create: (email, passwordHash): Promise<UserRecord> => users.create(email, passwordHash),
    findByEmail: (email) => users.findByEmail(email),
    findById: (id) => users.findById(id),
    updatePassword: (id, passwordHash, expectedEpoch) =>
      thenInvalidate(id, users.updatePassword(id, passwordHash, expectedEpoch)),
    rehashPassword: (id, passwordHash, previousHash) =>
      thenInvalidate(id, users.rehashPassword(id, passwordHash, previousHash)),
    revokeDevices: (id) => thenInvalidate(id, users.revokeDevices(id)),
    markEmailVerified: (id, email) => thenInvalidate(id, users.markEmailVerified(id, email)),
    changeEmail: (id, email, expectedEpoch) =>
      thenInvalidate(id, users.changeEmail(id, email, expectedEpoch)),
    setDisabled: (id, disabled) => thenInvalidate(id, users.setDisabled(id, disabled)),
  };

  const groupWrites: GroupRepository = {
    groupsOf: (id) => groups.groupsOf(id),
    add: (id, name) => thenInvalidate(id, groups.add(id, name)),
    remove: (id, name) => thenInvalidate(id, groups.remove(id, name)),
    unlessLastAdmin: (id, change) => thenInvalidate(id, groups.unlessLastAdmin(id, change)),
    async grantByEmail(emails, name) {
      const result = await groups.grantByEmail(emails, name);
      for (const email of result.granted) {
        const user = await users.findByEmail(email);
        if (user) await invalidateUser(user.id);
      }
      return result;
    },
  };

  return { lookup, invalidateUser, repository, groups: groupWrites };
}
