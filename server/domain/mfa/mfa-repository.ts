import type { Database } from "../../infra/db/database.js";

export interface TotpRow {
  /** Sealed (secret-box.ts), never the secret itself. */
  secretSealed: string;
  /** Null while set up but not yet confirmed with a first code. */
  confirmedAt: Date | null;
  /** The last time step accepted: no code of it or an earlier step is accepted again. */
  lastStep: number | null;
}

/** The second factors' rows: a TOTP secret and hashed single-use recovery codes per user. */
export interface MfaRepository {
  totpOf(userId: string): Promise<TotpRow | undefined>;
  /** Starts (or restarts) an unconfirmed setup; a confirmed TOTP is never replaced (false). */
  startTotp(userId: string, secretSealed: string): Promise<boolean>;
  /** Marks the setup confirmed with its first step, and replaces the recovery codes, at once. */
  confirmTotp(userId: string, step: number, codeHashes: string[]): Promise<boolean>;
  /** Records `step` as used if it is later than the last one; false when another request used it first. */
  useStep(userId: string, step: number): Promise<boolean>;
  reseal(userId: string, secretSealed: string): Promise<void>;
  /** Removes TOTP and the recovery codes; false when there was none. */
  removeTotp(userId: string): Promise<boolean>;
  replaceRecoveryCodes(userId: string, codeHashes: string[]): Promise<void>;
  /** Marks the code used if it is the user's and unused; false otherwise. */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  recoveryCodesLeft(userId: string): Promise<number>;
  /** A counter every change to the user's second factors moves (migration 15); 0 for an unknown user. */
  factorEpochOf(userId: string): Promise<number>;
}

export function createMfaRepository(db: Database): MfaRepository {
  const insertCodes = async (tx: Pick<Database, "query">, userId: string, codeHashes: string[]) => {
    await tx.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
    await tx.query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])", [
      userId,
      codeHashes,
    ]);
  };
  return {
    async totpOf(userId) {
      const { rows } = await db.query<{
        secret_sealed: string;
        confirmed_at: Date | null;
        last_step: string | null;
      }>("SELECT secret_sealed, confirmed_at, last_step FROM user_totp WHERE user_id = $1", [userId]);
      const row = rows[0];
      if (!row) return undefined;
      return {
        secretSealed: row.secret_sealed,
        confirmedAt: row.confirmed_at ? new Date(row.confirmed_at) : null,
        lastStep: row.last_step === null ? null : Number(row.last_step),
      };
    },
    async startTotp(userId, secretSealed) {
      const { rows } = await db.query(
        `INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = $2, created_at = now()
         WHERE user_totp.confirmed_at IS NULL RETURNING user_id`,
        [userId, secretSealed],
      );
      return rows.length > 0;
    },
    confirmTotp(userId, step, codeHashes) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `UPDATE user_totp SET confirmed_at = now(), last_step = $2
           WHERE user_id = $1 AND confirmed_at IS NULL RETURNING user_id`,
          [userId, step],
        );
        if (rows.length === 0) return false;
        await insertCodes(tx, userId, codeHashes);
        return true;
      });
    },
    async useStep(userId, step) {
      const { rows } = await db.query(
        `UPDATE user_totp SET last_step = $2
         WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2) RETURNING user_id`,
        [userId, step],
      );
      return rows.length > 0;
    },
    async reseal(userId, secretSealed) {
      await db.query("UPDATE user_totp SET secret_sealed = $2 WHERE user_id = $1", [userId, secretSealed]);
    },
    removeTotp(userId) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query("DELETE FROM user_totp WHERE user_id = $1 RETURNING confirmed_at", [
          userId,
        ]);
        await tx.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
        return rows.some((row) => (row as { confirmed_at: unknown }).confirmed_at !== null);
      });
    },
    replaceRecoveryCodes(userId, codeHashes) {
      return db.transaction((tx) => insertCodes(tx, userId, codeHashes));
    },
    async useRecoveryCode(userId, codeHash) {
      const { rows } = await db.query(
        `UPDATE recovery_codes SET used_at = now()
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id`,
        [userId, codeHash],
      );
      return rows.length > 0;
    },
    async recoveryCodesLeft(userId) {
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        [userId],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async factorEpochOf(userId) {
      const { rows } = await db.query<{ factor_epoch: number }>(
        "SELECT factor_epoch FROM users WHERE id = $1",
        [userId],
      );
      return Number(rows[0]?.factor_epoch ?? 0);
    },
  };
}
