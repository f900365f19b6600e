import { existsSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, launchChromium, submitCredentials, watchCsp } from "../helpers/chromium.js";
import { spawnedServerEnv } from "../helpers/fixtures.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";

const ARTIFACTS = "test-results";
const PASSWORD = "correct horse battery";

let server: ServerProcess;
let serverEnv: Record<string, string>;
let browser: Browser;
let attacker: Server;
let attackerUrl: string;
const contexts: BrowserContext[] = [];
/** The account page's session list (the activity section has a table of its own). */
const SESSION_ROWS = "section[aria-labelledby=sessions-title] tbody tr";
/** Every Content-Security-Policy violation any page of the app reported, as Chromium described it. */
const cspViolations: string[] = [];
const startedAt = Date.now();

/** A page on another origin (another loopback port) whose forms post to the app. */
function attackerPage(target: string): string {
  return `<!doctype html><html><body>
<form method="post" action="${target}/account/sessions/revoke-others"><button id="revoke">Win a prize</button></form>
<form method="post" action="${target}/account/password">
<input name="currentPassword" value="${PASSWORD}"><input name="newPassword" value="attacker's choice">
<button id="password">Claim</button></form>
</body></html>`;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does it)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  // Without TEST_DATABASE_URL the server keeps its embedded database on disk, so it survives a restart.
  serverEnv = await spawnedServerEnv();
  const [app, launched] = await Promise.all([startServerProcess(serverEnv), launchChromium()]);
  server = app;
  browser = launched;
  attacker = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(attackerPage(server.url));
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
  await server?.stop();
  console.log(`browser tests took ${((Date.now() - startedAt) / 1000).toFixed(1)} s (launch included)`);
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  contexts.push(context);
  await watchCsp(context, cspViolations, server.url);
  return context;
}

async function submit(page: Page, button: string, url: RegExp) {
  await Promise.all([page.waitForURL(url), page.click(button)]);
}

async function logIn(page: Page, email: string, password: string) {
  await page.goto(`${server.url}/login`);
  // The answer is a new document (same URL on failure): its load is waited for, not the old one's.
  await submitCredentials(page, email, password);
}

const email = `browser-${Date.now()}@example.com`;
let first: BrowserContext;
let firstPage: Page;

describe("in Chromium", () => {
  it("registers, lands on /account and stays logged in across reloads and pages", async () => {
    first = await newContext();
    firstPage = await first.newPage();
    await firstPage.goto(`${server.url}/`);
    expect(new URL(firstPage.url()).pathname).toBe("/login");
    await firstPage.click("text=Create one");
    await firstPage.fill("#f-email", email);
    await firstPage.fill("#f-password", PASSWORD);
    await submit(firstPage, "button[type=submit]", /\/account$/);
    expect(await firstPage.locator("main").textContent()).toContain(`Signed in as ${email}`);

    await firstPage.reload();
    expect(new URL(firstPage.url()).pathname).toBe("/account");
    expect(await firstPage.locator("main").textContent()).toContain(email);

    const another = await first.newPage();
    await another.goto(`${server.url}/`);
    expect(new URL(another.url()).pathname).toBe("/account");
    await another.close();

    const cookies = await first.cookies(server.url);
    const session = cookies.find((c) => c.name === "sid");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await firstPage.evaluate<string>("document.cookie")).not.toContain("sid=");

    await firstPage.screenshot({ path: join(ARTIFACTS, "account.png"), fullPage: true });
    // At 320 px nothing needs horizontal scrolling.
    await firstPage.setViewportSize({ width: 320, height: 800 });
    expect(await firstPage.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(320);
    await firstPage.screenshot({ path: join(ARTIFACTS, "account-320.png"), fullPage: true });
    await firstPage.setViewportSize({ width: 1024, height: 800 });
  });

  it("stays logged in when the server process restarts", async () => {
    expect(await server.stop()).toBe(0);
    server = await startServerProcess(serverEnv, server.port);
    await firstPage.reload();
    expect(new URL(firstPage.url()).pathname).toBe("/account");
    expect(await firstPage.locator("main").textContent()).toContain(email);
  });

  it("shows a wrong password next to the form, keeps the email, and focuses in order", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    // The email field has the focus (autofocus is applied at the next rendering, which the page's deferred
    // passkey scripts can put after the load event); Tab goes to the password, then to the button.
    await page.waitForFunction(`document.activeElement?.id === "f-email"`, undefined, { timeout: 5000 });
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement?.id")).toBe("f-password");
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement?.textContent")).toBe("Log in");
    await page.screenshot({ path: join(ARTIFACTS, "login.png"), fullPage: true });

    await logIn(page, email, "not the password");
    expect(new URL(page.url()).pathname).toBe("/login");
    expect((await page.getByRole("alert").textContent())?.trim()).toBe("Email or password is incorrect");
    expect(await page.inputValue("#f-email")).toBe(email);
    expect(await page.inputValue("#f-password")).toBe("");
    await page.screenshot({ path: join(ARTIFACTS, "login-error.png"), fullPage: true });
  });

  it("shows the wait time once the per-account login limit is reached", async () => {
    const page = await (await newContext()).newPage();
    // Another account than the one the other tests log in with: this one stays locked for a while.
    const locked = `locked-${Date.now()}@example.com`;
    for (let i = 0; i < 5; i++) {
      await logIn(page, locked, `guess number ${i}`);
      expect((await page.getByRole("alert").textContent())?.trim()).toBe("Email or password is incorrect");
    }
    await logIn(page, locked, "one more guess");
    expect((await page.getByRole("alert").textContent())?.trim()).toMatch(
      /^Too many login attempts\. Try again in \d+ (seconds|minutes)\.$/,
    );
    expect(await page.inputValue("#f-email")).toBe(locked);
    await page.screenshot({ path: join(ARTIFACTS, "login-rate-limited.png"), fullPage: true });
  });

  it("signs the other browser out with 'sign out all other devices'", async () => {
    const second = await newContext();
    const page = await second.newPage();
    await logIn(page, email, PASSWORD);
    expect(new URL(page.url()).pathname).toBe("/account");

    await firstPage.goto(`${server.url}/account`);
    expect(await firstPage.locator(SESSION_ROWS).count()).toBe(2);
    await submit(firstPage, "text=Sign out all other devices", /done=others/);
    expect(await firstPage.getByRole("status").textContent()).toContain(
      "Every other device has been signed out",
    );
    expect(await firstPage.locator(SESSION_ROWS).count()).toBe(1);

    await page.goto(`${server.url}/account`);
    expect(new URL(page.url()).pathname).toBe("/login");
  });

  it("refuses a form posted from another origin with 403 and changes nothing", async () => {
    const second = await newContext();
    const victimOther = await second.newPage();
    await logIn(victimOther, email, PASSWORD);

    const page = await first.newPage();
    for (const button of ["#revoke", "#password"]) {
      await page.goto(attackerUrl);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(server.url) && r.request().method() === "POST"),
        page.waitForEvent("load"),
        page.click(button),
      ]);
      expect(response.status()).toBe(403);
      expect((await page.locator("h1").textContent())?.trim()).toBe("Request refused");
    }
    await page.close();

    // Both sessions are alive and the password is the same.
    await victimOther.goto(`${server.url}/account`);
    expect(new URL(victimOther.url()).pathname).toBe("/account");
    await firstPage.goto(`${server.url}/account`);
    expect(await firstPage.locator(SESSION_ROWS).count()).toBe(2);
    const check = await (await newContext()).newPage();
    await logIn(check, email, PASSWORD);
    expect(new URL(check.url()).pathname).toBe("/account");
  });

  it("loads every page under the strict CSP with its stylesheet and no violation reported", async () => {
    const page = await first.newPage();
    const pages = [
      "/login",
      "/register",
      "/account",
      "/account?done=others",
      "/account/nope",
      "/account/confirm",
      "/docs/api",
    ];
    for (const path of pages) {
      const response = await page.goto(`${server.url}${path}`);
      expect(response?.headers()["content-security-policy"]).toMatch(/default-src 'none'/);
      // The stylesheet applied: the header bar has its dark background, not the default transparent one.
      const header = await page.evaluate(
        "getComputedStyle(document.querySelector('header')).backgroundColor",
      );
      expect(header, path).toBe("rgb(31, 41, 55)");
    }
    await page.goto(`${server.url}/account`);
    expect(await page.locator("#activity-title").textContent()).toBe("Recent security activity");
    expect(await page.locator("section[aria-labelledby=activity-title] tbody tr").count()).toBeGreaterThan(0);
    await page.close();
    // Collected on every page every test opened, the refused cross-site forms included.
    expect([...new Set(cspViolations)]).toEqual([]);
  });
});
