import express from "express";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_GROUP } from "../../server/domain/auth/groups.js";
import { requireGroup } from "../../server/http/require-group.js";
import { grantAdminEmails } from "../../server/process/runtime.js";
import type { TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/database.js";
import { isolatedDatabase, registerUser, testApp } from "../helpers/fixtures.js";
import { uniqueEmail } from "../helpers/session.js";

// Its own database: "the last admin" counts every admin in it.
let database: TestDatabase;
let t: TestApp;
const idOf = async (email: string) => (await t.services.users.findByEmail(email))?.id as string;

beforeAll(async () => {
  database = await isolatedDatabase();
  t = await testApp({
    db: database.db,
    env: { FORWARD_AUTH_RULES: RULES },
  });
});

const RULES = "svc.example.net/,svc.example.net/ops=group:ops";

function verify(app: TestApp, cookie: string, uri: string) {
  return request(app.app)
    .get("/auth/verify")
    .set({ "X-Forwarded-Proto": "https", "X-Forwarded-Host": "svc.example.net", "X-Forwarded-Uri": uri })
    .set("Cookie", cookie);
}

describe("groups on users", () => {
  it("a group rule admits its members on every instance as soon as the group is given, and X-Auth-Groups names them", async () => {
    const user = await registerUser(t);
    const other = await testApp({
      db: database.db,
      env: { KEY_PREFIX: t.config.keyPrefix, FORWARD_AUTH_RULES: RULES },
    });
    const open = await verify(other, user.cookie, "/reports").expect(200);
    expect(open.headers["x-auth-groups"]).toBe("");
    await verify(other, user.cookie, "/ops/deploy").expect(403);

    const id = await idOf(user.email);
    expect(await t.services.userCache.groups.add(id, "ops")).toBe(true);
    expect(await t.services.userCache.groups.add(id, "billing")).toBe(true);
    await expect
      .poll(async () => (await verify(other, user.cookie, "/ops/deploy")).status, { timeout: 10_000 })
      .toBe(200);
    expect((await verify(other, user.cookie, "/ops/deploy")).headers["x-auth-groups"]).toBe("billing,ops");

    await t.services.userCache.groups.remove(id, "ops");
    await expect
      .poll(async () => (await verify(other, user.cookie, "/ops/deploy")).status, { timeout: 10_000 })
      .toBe(403);
  });

  it("requireGroup() lets members through and answers 401 and 403 to the others", async () => {
    const app = express();
    app.use((req, _res, next) => {
      const who = req.get("x-test-user");
      if (who) req.user = { id: who, email: `${who}@example.com`, createdAt: new Date(), groups: [who] };
      next();
    });
    app.get("/reports", requireGroup("finance"), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(
      (
        err: { status: number; code: string },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status).json({ error: { code: err.code } });
      },
    );
    expect((await request(app).get("/reports")).status).toBe(401);
    expect((await request(app).get("/reports").set("x-test-user", "sales")).body.error.code).toBe(
      "forbidden",
    );
    expect((await request(app).get("/reports").set("x-test-user", "finance")).status).toBe(200);
  });

  it("ADMIN_EMAILS makes existing accounts admins at start-up and skips unknown addresses", async () => {
    const first = await registerUser(t);
    const nobody = uniqueEmail("nobody");
    const started = await testApp({
      db: database.db,
      env: { KEY_PREFIX: t.config.keyPrefix, ADMIN_EMAILS: `${first.email.toUpperCase()}, ${nobody}` },
      factories: { start: (ctx, services) => grantAdminEmails(ctx, services) },
    });
    expect(started.config.adminEmails).toEqual([first.email, nobody]);
    expect(await t.services.userCache.groups.groupsOf(await idOf(first.email))).toEqual([ADMIN_GROUP]);
    expect(await t.services.users.findByEmail(nobody)).toBeUndefined();
  });

  it("the last enabled admin cannot be removed, even by two admins removing each other at once", async () => {
    const { groups } = t.services.userCache;
    // Start from no admin at all in this database.
    await database.db.query("DELETE FROM user_groups WHERE name = $1", [ADMIN_GROUP]);
    const a = await idOf((await registerUser(t)).email);
    const b = await idOf((await registerUser(t)).email);
    await groups.add(a, ADMIN_GROUP);
    await expect(groups.remove(a, ADMIN_GROUP)).rejects.toMatchObject({ code: "last_admin", status: 409 });
    await groups.add(b, ADMIN_GROUP);

    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled([
        groups.remove(a, ADMIN_GROUP),
        groups.remove(b, ADMIN_GROUP),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.filter((r) => r.status === "rejected")[0]).toMatchObject({
        reason: { code: "last_admin" },
      });
      const { rows } = await database.db.query("SELECT user_id FROM user_groups WHERE name = $1", [
        ADMIN_GROUP,
      ]);
      expect(rows).toHaveLength(1);
      await groups.add(a, ADMIN_GROUP);
      await groups.add(b, ADMIN_GROUP);
    }
  });
});
