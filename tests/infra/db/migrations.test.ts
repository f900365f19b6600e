import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { createPgliteDatabase, createPostgresDatabase } from "../../../server/infra/db/database.js";
import { isMigrationRetryable, MigrationError, migrate } from "../../../server/infra/db/migrate.js";
import { MIGRATIONS } from "../../../server/infra/db/migrations.js";
import { createRuntime } from "../../../server/process/runtime.js";
import { testEnv } from "../../helpers/app.js";
import { emptyDatabase, isolatedDatabase } from "../../helpers/fixtures.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";
import { freePort } from "../../helpers/ports.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tablesBySchema = `
  SELECT table_schema, table_name FROM information_schema.tables
  WHERE table_name IN ('users', 'schema_migrations') ORDER BY table_name`;

describe("DATABASE_SCHEMA on the embedded PGlite", () => {
  it("puts the tables in that schema, not in public, and finds them again after a restart", async () => {
    const dataDir = tempDir();
    const first = await createPgliteDatabase({ dataDir, schema: "app_data" });
    try {
      expect(await migrate(first, silentLogger(), "app_data")).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await first.query(tablesBySchema);
      expect(rows).toEqual([
        { table_schema: "app_data", table_name: "schema_migrations" },
        { table_schema: "app_data", table_name: "users" },
      ]);
      await first.query("INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x')");
    } finally {
      await first.close();
    }

    const again = await createPgliteDatabase({ dataDir, schema: "app_data" });
    try {
      expect(await migrate(again, silentLogger(), "app_data")).toEqual([]);
      const { rows } = await again.query<{ email: string }>("SELECT email FROM users");
      expect(rows).toEqual([{ email: "a@example.com" }]);
    } finally {
      await again.close();
    }
  });
});

describe("migration failures", () => {
  it("a connection that cannot be made is worth retrying", async () => {
    const port = await freePort();
    const unreachable = createPostgresDatabase(
      { url: `postgres://postgres@127.0.0.1:${port}/test`, poolMax: 1, timeoutMs: 1000 },
      silentLogger(),
    );
    const refused = await migrate(unreachable, silentLogger()).catch((err: unknown) => err);
    await unreachable.close();
    expect(refused).toBeInstanceOf(Error);
    expect(isMigrationRetryable(refused)).toBe(true);
  });

  it("a migration whose SQL fails stops the boot at once, naming the migration and the database's message", async () => {
    // A table already there makes migration 1 fail the same way on every attempt: in a schema of the run's
    // PostgreSQL, or without one in an embedded PGlite's data directory.
    let target: Record<string, string>;
    if (process.env.TEST_DATABASE_URL) {
      const empty = await emptyDatabase();
      await empty.db.exec("CREATE TABLE users (id integer)");
      target = empty.env;
    } else {
      const dataDir = tempDir();
      const setup = await createPgliteDatabase({ dataDir });
      await setup.exec("CREATE TABLE users (id integer)");
      await setup.close();
      target = { DATA_DIR: dataDir };
    }

    const log = capturingLogger("warn");
    const config = loadConfig(testEnv(target));
    const started = Date.now();
    const err = await createRuntime(config, log.logger).then(
      () => new Error("the runtime started"),
      (e: unknown) => e,
    );
    // Retrying took over 30 s of back-off alone; one attempt (opening PGlite included) takes far less.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(err).toBeInstanceOf(MigrationError);
    expect(isMigrationRetryable(err)).toBe(false);
    expect((err as Error).message).toMatch(
      /^migration 1 \(create_users\) failed: relation "users" already exists/,
    );
    expect(log.text()).not.toMatch(/retrying migrations/);
  });
});

describe("migration 6: one normal form for stored emails", () => {
  it("normalises what it safely can, flags collisions and refused addresses, merges nothing", async () => {
    // A migrated database of the file's own (PostgreSQL, or PGlite without TEST_DATABASE_URL).
    const { db, env } = await isolatedDatabase();
    const schema = env.DATABASE_SCHEMA;
    {
      // Rows as earlier versions stored them (only trimmed and lower-cased), then migration 6 again.
      const insert = (email: string) =>
        db.query<{ id: string }>("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [
          email,
        ]);
      const legacy = {
        nfd: "rene\u0301@example.com", // alone: becomes NFC
        idn: "anna@bücher.de", // alone: the domain becomes punycode
        plain: "zoe@example.com", // already in its normal form
        collideNfc: "josé@example.com",
        collideNfd: "jose\u0301@example.com", // the same address as the one above once normalised
        zeroWidth: "eve@ex\u200bample.com",
        fullwidth: "ｍallory@example.com",
      };
      const ids: Record<string, string> = {};
      for (const [key, email] of Object.entries(legacy))
        ids[key] = (await insert(email)).rows[0]?.id as string;
      await db.exec(
        "DELETE FROM schema_migrations WHERE version = 6; ALTER TABLE users DROP COLUMN email_review",
      );

      expect(await migrate(db, silentLogger(), schema)).toEqual([6]);
      const { rows } = await db.query<{ id: string; email: string; email_review: string | null }>(
        "SELECT id, email, email_review FROM users",
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const row = (key: string) => byId.get(ids[key] as string);
      expect(row("nfd")).toMatchObject({ email: "rené@example.com", email_review: null });
      expect(row("idn")).toMatchObject({ email: "anna@xn--bcher-kva.de", email_review: null });
      expect(row("plain")).toMatchObject({ email: "zoe@example.com", email_review: null });
      // Never merged: both accounts stay, each with its own address, both flagged for an operator.
      expect(row("collideNfc")).toMatchObject({ email: legacy.collideNfc, email_review: "collision" });
      expect(row("collideNfd")).toMatchObject({ email: legacy.collideNfd, email_review: "collision" });
      expect(row("zeroWidth")).toMatchObject({ email: legacy.zeroWidth, email_review: "refused" });
      expect(row("fullwidth")).toMatchObject({ email: legacy.fullwidth, email_review: "refused" });
      expect(rows).toHaveLength(Object.keys(legacy).length);
    }
  });
});
