import { createHash, randomBytes } from "node:crypto";
import type { Database } from "../../infra/db/database.js";

export type TokenPurpose = "password_reset" | "email_verification" | "email_change";

/** What a token was bound to when it was issued; a use checks it still holds. */
export interface TokenBinding {
  /** The user's credential epoch (password reset, email change): a password change since voids the token. */
  credentialEpoch?: number;
  /** The address the link was mailed to (verification, email change). */
  email?: string;
}

export interface TokenGrant extends TokenBinding {
  userId: string;
}

/** Single-use links: the token travels in the mail, only its SHA-256 is stored. */
export interface AccountTokens {
  /** A new token for the user, voiding every older one of the same purpose. */
  issue(userId: string, purpose: TokenPurpose, binding: TokenBinding, ttlSeconds: number): Promise<string>;
  /** Whether the token exists and has not expired, without using it. */
  peek(token: string, purpose: TokenPurpose): Promise<boolean>;
  /** Uses the token (at most once, even under concurrent calls); undefined when unknown, used or expired. */
  consume(token: string, purpose: TokenPurpose): Promise<TokenGrant | undefined>;
}

const TOKEN_BYTES = 32;
/** base64url of 32 bytes: anything else is not one of ours and costs no query. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const digest = (token: string) => createHash("sha256").update(token).digest("base64url");

interface Row {
  user_id: string;
  credential_epoch: number | null;
  email: string | null;
  live: boolean;
}

/** Tokens in the `account_tokens` table (migration 5). */
export function createAccountTokens(db: Database): AccountTokens {
  return {
    async issue(userId, purpose, binding, ttlSeconds) {
      const token = randomBytes(TOKEN_BYTES).toString("base64url");
      await db.transaction(async (tx) => {
        // Older links of this purpose stop working; expired rows of anyone are swept on the way.
        await tx.query(
          "DELETE FROM account_tokens WHERE (user_id = $1 AND purpose = $2) OR expires_at < now()",
          [userId, purpose],
        );
        await tx.query(
          `INSERT INTO account_tokens (token_hash, user_id, purpose, credential_epoch, email, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + $6::integer * interval '1 second')`,
          [
            digest(token),
            userId,
            purpose,
            binding.credentialEpoch ?? null,
            binding.email ?? null,
            ttlSeconds,
          ],
        );
      });
      return token;
    },

    async peek(token, purpose) {
      if (!TOKEN_SHAPE.test(token)) return false;
      const { rows } = await db.query(
        "SELECT 1 FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > now()",
        [digest(token), purpose],
      );
      return rows.length > 0;
    },

    async consume(token, purpose) {
      if (!TOKEN_SHAPE.test(token)) return undefined;
      // One statement: of two concurrent uses, only one gets the row back.
      const { rows } = await db.query<Row>(
        `DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2
         RETURNING user_id, credential_epoch, email, expires_at > now() AS live`,
        [digest(token), purpose],
      );
      const row = rows[0];
      if (!row?.live) return undefined;
      return {
        userId: row.user_id,
        ...(row.credential_epoch !== null ? { credentialEpoch: Number(row.credential_epoch) } : {}),
        ...(row.email !== null ? { email: row.email } : {}),
      };
    },
  };
}
