import { spawn } from "node:child_process";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  launchChromium,
  press,
  registerInBrowser,
  submitCredentials,
  watchCsp,
} from "../helpers/chromium.js";
import { spawnedServerEnv, testRedisClient } from "../helpers/fixtures.js";
import { type ServerProcess, startServerProcess, type TestProcess, watch } from "../helpers/processes.js";
import { sessionIdOf } from "../helpers/session.js";

// The device sign-in end to end: examples/cli/device-login.mjs as its own process against the built
// server, its owner approving (or denying) on /device in Chromium.
const PASSWORD = "correct horse battery";
const CLI = "examples/cli/device-login.mjs";

let server: ServerProcess;
let browser: Browser;
let keyPrefix: string;
const cspViolations: string[] = [];
const contexts: BrowserContext[] = [];
const clis: TestProcess[] = [];

beforeAll(async () => {
  // The CLI waits DEVICE_POLL_INTERVAL_SECONDS between polls.
  const env = await spawnedServerEnv({ MFA: "off", DEVICE_POLL_INTERVAL_SECONDS: "1" });
  keyPrefix = env.KEY_PREFIX as string;
  [server, browser] = await Promise.all([startServerProcess(env), launchChromium()]);
});

afterAll(async () => {
  for (const cli of clis) await cli.stop("SIGKILL");
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await server?.stop();
});

type CliLine = {
  msg: string;
  user_code?: string;
  verification_uri?: string;
  verification_uri_complete?: string;
  status?: number;
  email?: string;
  error?: string;
};

/** The example CLI, started against the server; resolves once it printed its code. */
async function startCli(): Promise<{ cli: TestProcess; prompt: CliLine; lines: () => CliLine[] }> {
  const cli = watch(spawn(process.execPath, [CLI, server.url], { stdio: ["ignore", "pipe", "pipe"] }));
  clis.push(cli);
  await cli.waitForLog("\n");
  const lines = () =>
    cli
      .stdout()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as CliLine);
  const prompt = lines()[0] as CliLine;
  return { cli, prompt, lines };
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  contexts.push(context);
  await watchCsp(context, cspViolations);
  return context.newPage();
}

/** Moves the page's session's last authentication an hour back, as if it had been signed in for a while. */
async function ageAuthentication(page: Page) {
  const cookie = (await page.context().cookies()).find((c) => c.value.startsWith("s%3A"));
  const key = `${keyPrefix}:sess:${sessionIdOf(`${cookie?.name}=${cookie?.value}`)}`;
  const redis = await testRedisClient();
  const stored = JSON.parse((await redis.get(key)) as string);
  stored.auth.authAt = Date.now() - 3_600_000;
  await redis.set(key, JSON.stringify(stored), "KEEPTTL");
  redis.disconnect();
}

const register = (page: Page, email: string) => registerInBrowser(page, server.url, email, PASSWORD);

/** Follows the CLI's link in a signed-out browser: the login page, then back to the approval. */
async function openApproval(page: Page, email: string, prompt: CliLine) {
  await page.goto(prompt.verification_uri_complete as string);
  expect(new URL(page.url()).pathname).toBe("/login");
  await submitCredentials(page, email, PASSWORD);
  expect(new URL(page.url()).pathname).toBe("/device");
  expect(await page.locator("h1").textContent()).toBe("Sign in a device?");
  const main = await page.locator("main").textContent();
  expect(main).toContain("example CLI");
  expect(main).toContain(prompt.user_code);
  expect(main).toContain(email);
}

describe("device sign-in with the example CLI and Chromium", () => {
  it("the CLI prints a code; its owner signs in and approves on /device; the CLI prints /auth/me", async () => {
    const email = `device-approve-${Date.now()}@example.com`;
    await register(await newPage(), email);
    const { cli, prompt, lines } = await startCli();
    expect(prompt.msg).toBe("open the link and approve");
    expect(prompt.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(prompt.verification_uri).toBe(`${server.url}/device`);

    const page = await newPage();
    await openApproval(page, email, prompt);
    // A session older than REAUTH_MAX_AGE_SECONDS is asked for its password first, then comes back.
    await ageAuthentication(page);
    await press(page, "form input[value=approve] ~ button");
    expect(new URL(page.url()).pathname).toBe("/account/confirm");
    await page.fill("#f-password", PASSWORD);
    await press(page, "button[type=submit]");
    expect(new URL(page.url()).pathname).toBe("/device");
    await press(page, "form input[value=approve] ~ button");
    expect(await page.locator("h1").textContent()).toBe("Device signed in");

    expect(await cli.exited).toBe(0);
    expect(lines().at(-1)).toEqual({ msg: "signed in", status: 200, email });

    // The device is one of the account's sessions, marked as an app.
    await page.goto(`${server.url}/account`);
    expect(await page.locator("section[aria-labelledby=sessions-title] tbody tr").count()).toBe(3);
  });

  it("a denial in Chromium ends the CLI with access_denied", async () => {
    const email = `device-deny-${Date.now()}@example.com`;
    await register(await newPage(), email);
    const { cli, prompt, lines } = await startCli();
    const page = await newPage();
    await openApproval(page, email, prompt);
    await press(page, "form input[value=deny] ~ button");
    expect(await page.locator("h1").textContent()).toBe("Sign-in denied");

    expect(await cli.exited).toBe(1);
    expect(lines().at(-1)).toEqual({ msg: "sign-in failed", error: "access_denied" });
    // The code is spent: its link now says so.
    await page.goto(prompt.verification_uri_complete as string);
    expect(await page.locator("[role=alert]").textContent()).toContain("already used or has expired");
  });

  it("showed every page under the strict CSP without a violation", () => {
    expect(cspViolations).toEqual([]);
  });
});
