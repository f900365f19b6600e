import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_CHROMIUM, launchChromium, watchCsp } from "../helpers/chromium.js";
import { spawnedServerEnv } from "../helpers/fixtures.js";
import { freePort } from "../helpers/ports.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";
import { uniqueEmail } from "../helpers/session.js";
import { startSmtpServer, type TestSmtpServer } from "../helpers/smtp.js";

const OLD_PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a brand new passphrase";

let server: ServerProcess;
let browser: Browser;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startSmtpServer();
  const port = await freePort();
  const env = await spawnedServerEnv({
    SMTP_URL: smtp.url,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    EMAIL_VERIFICATION: "off",
  });
  [server, browser] = await Promise.all([startServerProcess(env, port), launchChromium()]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe.skipIf(!HAS_CHROMIUM)("in Chromium", () => {
  it("walks 'forgot password' from the login page to the account page, with the link from the mail", async () => {
    const email = uniqueEmail("browser-reset");
    const registered = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: OLD_PASSWORD }),
    });
    expect(registered.status).toBe(201);

    const context = await browser.newContext();
    const violations: string[] = [];
    await watchCsp(context, violations);
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await Promise.all([
      page.waitForURL(/\/password\/forgot$/),
      page.getByRole("link", { name: "Forgot password?" }).click(),
    ]);
    expect(await page.evaluate<string>("document.activeElement?.id")).toBe("f-email");
    await page.getByLabel("Email").fill(email);
    await Promise.all([
      page.waitForURL(/\/password\/forgot\?sent=1$/),
      page.getByRole("button", { name: "Send the link" }).click(),
    ]);
    expect(await page.getByRole("status").textContent()).toContain(
      "a link to reset its password is on its way",
    );

    const mail = await smtp.waitFor(email);
    const link = mail.links.find((l) => l.startsWith(`${server.url}/password/reset?token=`)) as string;
    expect(link).toBeDefined();
    const opened = await page.goto(link);
    expect(opened?.headers()["referrer-policy"]).toBe("no-referrer");
    await page.getByLabel("New password").fill(NEW_PASSWORD);
    await Promise.all([
      page.waitForURL(/\/login\?done=reset$/),
      page.getByRole("button", { name: "Change password" }).click(),
    ]);
    expect(await page.getByRole("status").textContent()).toContain("Log in with the new password");

    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await Promise.all([page.waitForURL(/\/account$/), page.getByRole("button", { name: "Log in" }).click()]);
    expect(await page.locator("main").textContent()).toContain(`Signed in as ${email}`);

    // The link worked once: opening it again says so and offers a new one.
    await page.goto(link);
    expect(await page.getByRole("alert").textContent()).toContain("already used or has expired");
    expect(await page.getByRole("link", { name: "Ask for a new link" }).getAttribute("href")).toBe(
      "/password/forgot",
    );
    expect(violations).toEqual([]);
    await context.close();
  });
});
