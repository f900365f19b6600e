import type { UserRecord } from "./user-repository.js";

declare global {
  namespace Express {
    interface User {
      id: string;
      email: string;
      createdAt: Date;
      /** The user's credential epoch when it was read (see UserRecord.credentialEpoch); absent counts as 0. */
      credentialEpoch?: number;
      /** Whether the owner confirmed the address (absent: not known on this object). */
      emailVerified?: boolean;
      /** The groups of the cached copy (absent right after a login); admin routes read the database. */
      groups?: string[];
    }
  }
}

type UserFields = Pick<UserRecord, "id" | "email" | "createdAt" | "credentialEpoch">;

/** A user row, or the cached copy of one, which keeps whether the address is confirmed instead of when. */
export type SessionUserSource =
  | (UserFields & Pick<UserRecord, "emailVerifiedAt">)
  | (UserFields & { emailVerified?: boolean; groups?: string[] });

/**
 * The user a session carries (`req.user`): public fields only, never the password hash. The epoch is the
 * one of the row that was read, so a password change that lands meanwhile voids the session it creates.
 */
export function sessionUser(record: SessionUserSource): Express.User {
  const emailVerified = "emailVerifiedAt" in record ? record.emailVerifiedAt !== null : record.emailVerified;
  return {
    id: record.id,
    email: record.email,
    createdAt: record.createdAt,
    credentialEpoch: record.credentialEpoch,
    ...(emailVerified !== undefined ? { emailVerified } : {}),
    ...("groups" in record && record.groups ? { groups: record.groups } : {}),
  };
}
