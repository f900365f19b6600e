import type { Database } from "../../infra/db/database.js";
import { HttpError } from "../../lib/errors.js";
import type { UserRecord } from "../auth/user-repository.js";
import { toRecord, USER_COLUMNS, type UserRow } from "../auth/user-repository.js";

/** An account at a provider, as the provider described it. */
export interface ProviderAccount {
  provider: string;
  /** The provider's stable id of the person (`sub`); never reused, unlike an email address. */
  subject: string;
  email?: string;
  /** True only when the provider says it checked that its user reads mail at `email`. */
  emailVerified: boolean;
}

export interface Identity {
  provider: string;
  subject: string;
  userId: string;
  email: string | null;
  createdAt: Date;
  lastUsedAt: Date;
}

interface IdentityRow {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: Date | string;
  last_used_at: Date | string;
}

const toIdentity = (row: IdentityRow): Identity => ({
  provider: row.provider,
  subject: row.subject,
  userId: row.user_id,
  email: row.email,
  createdAt: new Date(row.created_at),
  lastUsedAt: new Date(row.last_used_at),
});

export interface Identities {
  /** The identity and its user, marking it used now; undefined when no user has it. */
  use(provider: string, subject: string): Promise<{ identity: Identity; user: UserRecord } | undefined>;
  /** Gives `account` to `userId`; `identity_taken` when another user (or this one) has it already. */
  link(userId: string, account: ProviderAccount): Promise<Identity>;
  /**
   * A new user at `email` (verified: only a provider's verified address creates one), without a password,
   * with `account` as its way in, in one transaction: both or neither. `email_taken` when the address has
   * an account, `identity_taken` when the identity has a user.
   */
  createUser(email: string, account: ProviderAccount): Promise<UserRecord>;
  list(userId: string): Promise<Identity[]>;
  /**
   * Removes the user's identity unless it is their last way in (no password and no other identity):
   * `last_sign_in_method`; `not_found` when the user has no such identity. Checked and removed under the
   * user's row lock, so two unlinks at once cannot remove both of the last two ways in.
   */
  unlink(userId: string, provider: string, subject: string): Promise<void>;
}

const UNIQUE_VIOLATION = "23505";
const IDENTITY_COLUMNS = "provider, subject, user_id, email, created_at, last_used_at";

function translate(err: unknown): never {
  if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
    const constraint = (err as { constraint?: string }).constraint ?? "";
    throw new HttpError(constraint.startsWith("identities") ? "identity_taken" : "email_taken");
  }
  throw err;
}

/** Identities in SQL, keyed by (provider, subject). */
export function createIdentities(db: Database): Identities {
  const insert = (tx: Pick<Database, "query">, userId: string, account: ProviderAccount) =>
    tx.query<IdentityRow>(
      `INSERT INTO identities (provider, subject, user_id, email, email_verified) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${IDENTITY_COLUMNS}`,
      [account.provider, account.subject, userId, account.email ?? null, account.emailVerified],
    );
  return {
    async use(provider, subject) {
      const { rows } = await db.query<IdentityRow>(
        `UPDATE identities SET last_used_at = now() WHERE provider = $1 AND subject = $2 RETURNING ${IDENTITY_COLUMNS}`,
        [provider, subject],
      );
      const row = rows[0];
      if (!row) return undefined;
      const users = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [row.user_id]);
      return users.rows[0] ? { identity: toIdentity(row), user: toRecord(users.rows[0]) } : undefined;
    },
    async link(userId, account) {
      const { rows } = await insert(db, userId, account).catch(translate);
      return toIdentity(rows[0] as IdentityRow);
    },
    createUser(email, account) {
      return db
        .transaction(async (tx) => {
          const { rows } = await tx.query<UserRow>(
            `INSERT INTO users (email, password_hash, email_verified_at) VALUES ($1, '', now()) RETURNING ${USER_COLUMNS}`,
            [email],
          );
          const user = toRecord(rows[0] as UserRow);
          await insert(tx, user.id, account);
          return user;
        })
        .catch(translate);
    },
    async unlink(userId, provider, subject) {
      await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ has_password: boolean; identities: string }>(
          `SELECT password_hash <> '' AS has_password,
                  (SELECT count(*) FROM identities WHERE user_id = users.id) AS identities
           FROM users WHERE id = $1 FOR UPDATE`,
          [userId],
        );
        const user = rows[0];
        if (!user) throw new HttpError("not_found");
        const match = [userId, provider, subject];
        const { rows: found } = await tx.query(
          "SELECT 1 FROM identities WHERE user_id = $1 AND provider = $2 AND subject = $3",
          match,
        );
        if (found.length === 0) throw new HttpError("not_found");
        if (!user.has_password && Number(user.identities) <= 1) throw new HttpError("last_sign_in_method");
        await tx.query("DELETE FROM identities WHERE user_id = $1 AND provider = $2 AND subject = $3", match);
      });
    },
    async list(userId) {
      const { rows } = await db.query<IdentityRow>(
        `SELECT ${IDENTITY_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at`,
        [userId],
      );
      return rows.map(toIdentity);
    },
  };
}
