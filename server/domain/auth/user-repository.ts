import type { PublicUser } from "../../../shared/api-types.js";
import type { Database } from "../../infra/db/database.js";
import { HttpError } from "../../lib/errors.js";

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
  /** Set while an operator has disabled the account. */
  disabledAt: Date | null;
  /** Incremented by every password change; a session issued under an older epoch is revoked. */
  credentialEpoch: number;
  /** Incremented when the user signs out everywhere; device cookies issued under an older one are void. */
  deviceEpoch: number;
  /** When the owner proved they read mail at `email` (a verification or password-reset link); null: not yet. */
  emailVerifiedAt: Date | null;
}

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date | string;
  updated_at: Date | string;
  disabled_at: Date | string | null;
  credential_epoch: number;
  device_epoch: number;
  email_verified_at: Date | string | null;
}

export const USER_COLUMNS =
  "id, email, password_hash, created_at, updated_at, credential_epoch, device_epoch, disabled_at, email_verified_at";

export function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    disabledAt: row.disabled_at === null ? null : new Date(row.disabled_at),
    credentialEpoch: Number(row.credential_epoch),
    deviceEpoch: Number(row.device_epoch),
    emailVerifiedAt: row.email_verified_at ? new Date(row.email_verified_at) : null,
  };
}

export function toPublicUser(user: Pick<UserRecord, "id" | "email" | "createdAt">): PublicUser {
  return { id: user.id, email: user.email, createdAt: user.createdAt.toISOString() };
}

export interface UserRepository {
  create(email: string, passwordHash: string): Promise<UserRecord>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  /**
   * Sets the password and increments the credential epoch in one statement; returns the new epoch, or
   * undefined when no row matched (no such user, or its epoch is no longer `expectedEpoch`).
   */
  updatePassword(id: string, passwordHash: string, expectedEpoch?: number): Promise<number | undefined>;
  /**
   * Replaces the hash of the same password (made at the configured cost) if it is still `previousHash`;
   * the credential epoch stays: no session ends. False when the password changed meanwhile.
   */
  rehashPassword(id: string, passwordHash: string, previousHash: string): Promise<boolean>;
  /** Voids every device cookie of the user (increments the device epoch); returns the new epoch. */
  revokeDevices(id: string): Promise<number | undefined>;
  /** Marks `email` as verified if it is still the user's address; false when it is not (or no such user). */
  markEmailVerified(id: string, email: string): Promise<boolean>;
  /**
   * Moves the account to `email` and marks it verified (the owner proved they read mail there), if the
   * credential epoch is still `expectedEpoch`, and voids its password-reset links (mailed to the old
   * address); false when it is not (or no such user). `email_taken` when another account has the address.
   */
  changeEmail(id: string, email: string, expectedEpoch: number): Promise<boolean>;
  /** Disables (login refused, sessions no longer accepted) or re-enables the account. */
  setDisabled(id: string, disabled: boolean): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users in SQL; emails arrive normalised and are unique case-insensitively. */
export function createUserRepository(db: Database): UserRepository {
  return {
    async create(email, passwordHash) {
      try {
        const { rows } = await db.query<UserRow>(
          `INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING ${USER_COLUMNS}`,
          [email, passwordHash],
        );
        return toRecord(rows[0] as UserRow);
      } catch (err) {
        if ((err as { code?: string }).code === "23505") throw new HttpError("email_taken");
        throw err;
      }
    },
    async findByEmail(email) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1)`,
        [email],
      );
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async findById(id) {
      if (!UUID.test(id)) return undefined;
      const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async updatePassword(id, passwordHash, expectedEpoch) {
      const { rows } = await db.query<{ credential_epoch: number }>(
        `UPDATE users SET password_hash = $2, credential_epoch = credential_epoch + 1, updated_at = now()
         WHERE id = $1 AND ($3::integer IS NULL OR credential_epoch = $3)
         RETURNING credential_epoch`,
        [id, passwordHash, expectedEpoch ?? null],
      );
      return rows[0] ? Number(rows[0].credential_epoch) : undefined;
    },
    async rehashPassword(id, passwordHash, previousHash) {
      const { rows } = await db.query(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 AND password_hash = $3 RETURNING id",
        [id, passwordHash, previousHash],
      );
      return rows.length > 0;
    },
    async revokeDevices(id) {
      const { rows } = await db.query<{ device_epoch: number }>(
        "UPDATE users SET device_epoch = device_epoch + 1, updated_at = now() WHERE id = $1 RETURNING device_epoch",
        [id],
      );
      return rows[0] ? Number(rows[0].device_epoch) : undefined;
    },
    async markEmailVerified(id, email) {
      const { rows } = await db.query(
        `UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
         WHERE id = $1 AND lower(email) = lower($2) RETURNING id`,
        [id, email],
      );
      return rows.length > 0;
    },
    async changeEmail(id, email, expectedEpoch) {
      try {
        // Password-reset links went to the old address: they stop working with it.
        const { rows } = await db.query(
          `WITH changed AS (
             UPDATE users SET email = $2, email_verified_at = now(), updated_at = now()
             WHERE id = $1 AND credential_epoch = $3 RETURNING id
           ), dropped AS (
             DELETE FROM account_tokens WHERE purpose = 'password_reset' AND user_id IN (SELECT id FROM changed)
           )
           SELECT id FROM changed`,
          [id, email, expectedEpoch],
        );
        return rows.length > 0;
      } catch (err) {
        if ((err as { code?: string }).code === "23505") throw new HttpError("email_taken");
        throw err;
      }
    },
    async setDisabled(id, disabled) {
      await db.query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now() WHERE id = $1",
        [id, disabled],
      );
    },
  };
}
