import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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

/** A headless Chromium driven by playwright-core; the caller closes it. */
export function launchChromium(): Promise<Browser> {
  if (!HAS_CHROMIUM) {
    return Promise.reject(
      new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does it)`),
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}
