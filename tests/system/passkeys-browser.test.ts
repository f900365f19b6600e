import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, watchCsp } from "../helpers/chromium.js";
import { spawnedServerEnv } from "../helpers/fixtures.js";
import { freePort } from "../helpers/ports.js";
import { type ServerProcess, startServerProcess } from "../helpers/processes.js";

const PASSWORD = "correct horse battery";

let server: ServerProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Turns the virtual authenticator's answers on or off (off: every request waits, as for a person away). */
let presence: (on: boolean) => Promise<void>;
/** `http://localhost:<port>`: a secure context, and `localhost` is a valid RP ID (an IP address is not). */
let origin: string;
const cspViolations: string[] = [];
const startedAt = Date.now();

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  const env = await spawnedServerEnv({ PUBLIC_URL: origin });
  [server, browser] = await Promise.all([startServerProcess(env, port), launchChromium()]);
  context = await browser.newContext();
  await watchCsp(context, cspViolations);
  // Marks the moment the page has asked the browser for its autofill (conditional) passkey request, so a
  // test can wait for it to be pending before the authenticator starts answering.
  await context.addInitScript({
    content: `if (navigator.credentials) {
      const get = navigator.credentials.get.bind(navigator.credentials);
      navigator.credentials.get = (options) => {
        const pending = get(options);
        if (options && options.mediation === "conditional") document.documentElement.dataset.autofillAsked = "1";
        return pending;
      };
    }`,
  });
  page = await context.newPage();
  // The DevTools protocol's virtual authenticator: navigator.credentials runs the real ceremony.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  presence = async (enabled) =>
    void (await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled }));
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close();
  await server?.stop();
  console.log(
    `passkey browser tests took ${((Date.now() - startedAt) / 1000).toFixed(1)} s (launch included)`,
  );
});

async function clickTo(selector: string, url: RegExp) {
  await Promise.all([page.waitForURL(url), page.click(selector)]);
}

const email = `passkey-${Date.now()}@example.com`;

describe("passkeys in Chromium", () => {
  it("registers a passkey on the account page, then signs in with it and no password", async () => {
    await page.goto(`${origin}/register`);
    await page.fill("#f-email", email);
    await page.fill("#f-password", PASSWORD);
    await clickTo("button[type=submit]", /\/account$/);

    await page.fill("#f-passkey-name", "Virtual key");
    await clickTo("#passkey-add", /\/account\?done=passkey-added$/);
    expect(await page.locator("#passkeys").textContent()).toContain("Virtual key");

    // The login page's autofill request waits: the authenticator answers nothing until the button, whose
    // request replaces it. Turned on before the page had asked, it would answer the autofill request.
    await presence(false);
    await clickTo("text=Log out", /\/login$/);
    expect(await page.getAttribute("#f-email", "autocomplete")).toBe("username webauthn");
    await page.waitForSelector("html[data-autofill-asked]", { state: "attached" });
    await presence(true);
    await clickTo("#passkey-sign-in", /\/account$/);
    expect(await page.locator("main").textContent()).toContain(`Signed in as ${email}`);
  });

  it("offers the passkey in the email field's autofill (conditional UI), which signs in", async () => {
    await presence(true);
    // The virtual authenticator answers a conditional request as a person picking the suggestion would.
    await clickTo("text=Log out", /\/account$|\/login$/);
    await page.waitForURL(/\/account$/);
    expect(await page.locator("main").textContent()).toContain(`Signed in as ${email}`);
  });

  it("uses the passkey as the second step after the password, and trusts the browser when asked", async () => {
    await presence(false);
    await clickTo("text=Log out", /\/login$/);
    await page.fill("#f-email", email);
    await page.fill("#f-password", PASSWORD);
    await clickTo("button[type=submit]", /\/login\/mfa/);
    await page.check("#f-trust");
    await presence(true);
    await clickTo("#passkey-sign-in", /\/account$/);
    expect(await page.locator("main").textContent()).toContain(`Signed in as ${email}`);

    // The password alone now signs in from this browser: no second step.
    await presence(false);
    await clickTo("text=Log out", /\/login$/);
    await page.fill("#f-email", email);
    await page.fill("#f-password", PASSWORD);
    await clickTo("button[type=submit]", /\/account$/);
    expect(await page.locator("main").textContent()).toContain(`Signed in as ${email}`);
  });

  it("shows the authenticator app's QR code as SVG from this origin", async () => {
    await clickTo('form[action="/account/mfa/totp/setup"] button', /\/account\/mfa\/totp$/);
    const box = await page.locator(".qr svg").boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    expect(box?.height).toBeGreaterThan(100);
    expect(await page.locator("#totp-secret").textContent()).toMatch(/^[A-Z2-7 ]+$/);
  });

  it("no page reported a Content-Security-Policy violation", () => {
    expect([...new Set(cspViolations)]).toEqual([]);
  });
});
