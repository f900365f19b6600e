import { describe, expect, it } from "vitest";
import { createAccountTokens } from "../../../server/domain/auth/account-tokens.js";
import { createUserRepository } from "../../../server/domain/auth/user-repository.js";
import { migrate } from "../../../server/infra/db/migrate.js";
import { MIGRATIONS } from "../../../server/infra/db/migrations.js";
import { emptyDatabase, testDatabase } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { uniqueEmail } from "../../helpers/session.js";

const { db } = await testDatabase();
const users = createUserRepository(db);
const tokens = createAccountTokens(db);

async function newUser() {
  return users.create(uniqueEmail("token"), "not-a-real-hash");
}

describe("single-use account tokens", () => {
  it("are 32 random bytes in base64url, stored only as their SHA-256", async () => {
    const user = await newUser();
    const token = await tokens.issue(user.id, "password_reset", { credentialEpoch: 0 }, 60);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { rows } = await db.query<{ token_hash: string }>(
      "SELECT token_hash FROM account_tokens WHERE user_id = $1",
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).not.toContain(token);
    expect(rows[0]?.token_hash).toHaveLength(43);
  });

  it("work once, for their purpose only, even when used twice at the same moment", async () => {
    const user = await newUser();
    const token = await tokens.issue(user.id, "email_verification", { email: user.email }, 60);
    expect(await tokens.consume(token, "password_reset")).toBeUndefined();
    const uses = await Promise.all([
      tokens.consume(token, "email_verification"),
      tokens.consume(token, "email_verification"),
    ]);
    expect(uses.filter(Boolean)).toEqual([{ userId: user.id, email: user.email }]);
    expect(await tokens.consume(token, "email_verification")).toBeUndefined();
  });

  it("are voided by a newer token of the same purpose, not by one of another", async () => {
    const user = await newUser();
    const older = await tokens.issue(user.id, "password_reset", { credentialEpoch: 0 }, 60);
    const verification = await tokens.issue(user.id, "email_verification", { email: user.email }, 60);
    const newer = await tokens.issue(user.id, "password_reset", { credentialEpoch: 0 }, 60);
    expect(await tokens.peek(older, "password_reset")).toBe(false);
    expect(await tokens.consume(older, "password_reset")).toBeUndefined();
    expect(await tokens.consume(newer, "password_reset")).toEqual({ userId: user.id, credentialEpoch: 0 });
    expect(await tokens.consume(verification, "email_verification")).toMatchObject({ userId: user.id });
  });

  it("stop working when they expire", async () => {
    const user = await newUser();
    const token = await tokens.issue(user.id, "password_reset", { credentialEpoch: 0 }, 60);
    await db.query("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1", [
      user.id,
    ]);
    expect(await tokens.peek(token, "password_reset")).toBe(false);
    expect(await tokens.consume(token, "password_reset")).toBeUndefined();
  });

  it("refuse anything that is not a token without a query error", async () => {
    for (const bad of ["", "short", "x".repeat(43).replace("x", "!"), `${"a".repeat(43)}'--`]) {
      expect(await tokens.peek(bad, "password_reset")).toBe(false);
      expect(await tokens.consume(bad, "password_reset")).toBeUndefined();
    }
  });
});

describe("migration 5", () => {
  it("counts accounts that existed before it as verified, and new ones as not yet", async () => {
    // PostgreSQL (or PGlite without it) as release 4 left it: the migrations before 5, then one account.
    const { db, schema } = await emptyDatabase();
    {
      const before = MIGRATIONS.filter((m) => m.version < 5);
      for (const m of before) await db.exec(m.sql);
      await db.exec(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      for (const m of before) {
        await db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      }
      await db.query("INSERT INTO users (email, password_hash) VALUES ('old@example.com', 'x')");
      expect(await migrate(db, silentLogger(), schema)).toEqual(
        MIGRATIONS.filter((m) => m.version >= 5).map((m) => m.version),
      );
      const repo = createUserRepository(db);
      expect((await repo.findByEmail("old@example.com"))?.emailVerifiedAt).toBeInstanceOf(Date);
      expect((await repo.create("new@example.com", "x")).emailVerifiedAt).toBeNull();
    }
  });
});
