import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresDatabase, type Database } from "../../server/infra/db/database.js";
import {
  launchChromium,
  press,
  registerInBrowser,
  submitCredentials,
  watchCsp,
} from "../helpers/chromium.js";
import { spawnedServerEnv, testDatabase } from "../helpers/fixtures.js";
import { silentLogger } from "../helpers/logger.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";

const PASSWORD = "correct horse battery";
/** Set by `npm run docs:screenshot` only: where the console's picture for the docs goes. */
const SCREENSHOT = process.env.ADMIN_SCREENSHOT;

let server: ServerProcess;
let browser: Browser;
let db: Database;
const contexts: BrowserContext[] = [];
/** Every Content-Security-Policy violation a page of the app reported. */
const cspViolations: string[] = [];
const startedAt = Date.now();

// The admin is made in the server's database, which only a shared PostgreSQL lets the test reach.
describe.skipIf(!process.env.TEST_DATABASE_URL)("the admin console in Chromium", () => {
  beforeAll(async () => {
    const database = await testDatabase();
    db = createPostgresDatabase(
      {
        url: database.env.DATABASE_URL as string,
        schema: database.env.DATABASE_SCHEMA,
        poolMax: 2,
        timeoutMs: 5000,
      },
      silentLogger(),
    );
    const env = await spawnedServerEnv({ MFA: "off" });
    [server, browser] = await Promise.all([startServerProcess(env), launchChromium()]);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await db?.close();
    console.log(
      `admin browser tests took ${((Date.now() - startedAt) / 1000).toFixed(1)} s (launch included)`,
    );
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
    contexts.push(context);
    await watchCsp(context, cspViolations);
    return context.newPage();
  }

  const register = (page: Page, email: string) => registerInBrowser(page, server.url, email, PASSWORD);

  it("an admin finds a user, ends their sessions, disables them; a non-admin gets 403; no page breaks the CSP", async () => {
    const stamp = Date.now();
    const adminEmail = `console-admin-${stamp}@example.com`;
    const userEmail = `console-user-${stamp}@example.com`;
    const adminPage = await newPage();
    const userPage = await newPage();
    await register(adminPage, adminEmail);
    await register(userPage, userEmail);
    // More accounts for the list, through the API: no browser needed.
    for (const n of [1, 2]) {
      const res = await fetch(`${server.url}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `console-other-${n}-${stamp}@example.com`, password: PASSWORD }),
      });
      expect(res.status).toBe(201);
    }

    // Not an admin yet: 403 on the console.
    const refused = await adminPage.goto(`${server.url}/admin`);
    expect(refused?.status()).toBe(403);
    await db.query("INSERT INTO user_groups (user_id, name) SELECT id, 'admin' FROM users WHERE email = $1", [
      adminEmail,
    ]);

    await adminPage.goto(`${server.url}/admin`);
    expect(await adminPage.locator("figure.chart svg rect").count()).toBeGreaterThan(0);
    await adminPage.goto(`${server.url}/admin/users`);
    await adminPage.fill("#f-q", `console-user-${stamp}`);
    await press(adminPage, "form[role=search] button");
    await press(adminPage, `a:text("${userEmail}")`);
    expect(await adminPage.locator("h1").textContent()).toBe(userEmail);
    expect(await adminPage.locator("section[aria-labelledby=sessions-title] tbody tr").count()).toBe(1);

    // A destructive action asks first.
    await press(adminPage, "button:text('End every session')");
    expect(await adminPage.locator("h1").textContent()).toBe("End every session?");
    await press(adminPage, "main form button.danger");
    expect(await adminPage.locator(".notice").textContent()).toContain(
      "Every session of this account has ended",
    );
    await userPage.reload();
    expect(new URL(userPage.url()).pathname).toBe("/login");

    // Signed in again, then disabled.
    await submitCredentials(userPage, userEmail, PASSWORD);
    expect(new URL(userPage.url()).pathname).toBe("/account");
    await press(adminPage, "button:text('Disable the account')");
    await press(adminPage, "main form button.danger");
    expect(await adminPage.locator("main").textContent()).toContain("Disabled.");
    if (SCREENSHOT) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await adminPage.screenshot({ path: SCREENSHOT, fullPage: true });
    }
    // The user's page ends its session; their next login, with the right password, says why.
    await userPage.reload();
    expect(new URL(userPage.url()).pathname).toBe("/login");
    await submitCredentials(userPage, userEmail, PASSWORD);
    expect(new URL(userPage.url()).pathname).toBe("/login");
    expect(await userPage.locator("[role=alert]").textContent()).toContain(
      "This account has been disabled by an administrator",
    );

    expect(cspViolations).toEqual([]);
  });
});
