import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's chromium package; playwright's own browser download cannot work here. */
export const CHROMIUM = "/usr/bin/chromium";

export const HAS_CHROMIUM = existsSync(CHROMIUM);

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Collects into `violations` every Content-Security-Policy violation of `context`'s pages (of `origin`'s
 * pages only, when given: a provider's pages are not ours). An init script runs outside the page's CSP, so
 * it sees what the policy blocks and reports it on the console.
 */
export async function watchCsp(
  context: BrowserContext,
  violations: string[],
  origin?: string,
): Promise<void> {
  await context.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      console.error("securitypolicyviolation: " + e.violatedDirective + " blocked " + e.blockedURI));`,
  });
  context.on("console", (message) => {
    const url = message.page()?.url();
    const ours = origin === undefined || (url?.startsWith(origin) ?? true);
    if (ours && /securitypolicyviolation|Content Security Policy/i.test(message.text())) {
      violations.push(`${url ?? ""}: ${message.text()}`);
    }
  });
}

/** A headless Chromium driven by playwright-core; the caller closes it. */
export function launchChromium(): Promise<Browser> {
  if (!HAS_CHROMIUM) {
    return Promise.reject(
      new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does it)`),
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** Clicks what answers with a new document (a form's button, a link) and waits for that document's load. */
export async function press(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForEvent("load"), page.click(selector)]);
}

/**
 * Fills the email and password of the form the page shows (login, registration) and submits it; resolves
 * once the answer has loaded, wherever it landed (a failed login stays on /login).
 */
export async function submitCredentials(page: Page, email: string, password: string): Promise<void> {
  await page.fill("#f-email", email);
  await page.fill("#f-password", password);
  await press(page, "button[type=submit]");
}

/** Registers `email` on the registration page at `baseUrl`; resolves on the account page it lands on. */
export async function registerInBrowser(
  page: Page,
  baseUrl: string,
  email: string,
  password: string,
): Promise<void> {
  await page.goto(`${baseUrl}/register`);
  await page.fill("#f-email", email);
  await page.fill("#f-password", password);
  await Promise.all([page.waitForURL(/\/account$/), page.click("button[type=submit]")]);
}
