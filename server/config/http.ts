import { isIP } from "node:net";
import { z } from "zod";
import { canonicalOrigin } from "../lib/canonical-url.js";
import { int, nonEmpty, type Report, type Values } from "./variables.js";

export const HTTP_VARIABLES = {
  PORT: int(0, 65535).default(3000), // listening port
  HOST: nonEmpty.default("0.0.0.0"), // listening interface
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"), // log verbosity
  LOG_REPEAT_INTERVAL_MS: int(100, 3_600_000).default(10_000), // a failure that keeps repeating (an outage) is logged once, then as a count at most this often, then once when it ends
  TRUST_PROXY: nonEmpty.optional(), // false (clients connect directly), a hop count, or proxy addresses/CIDRs; unset: 1 on Railway, 0 outside production, refused in production elsewhere
  HTTP_REQUEST_TIMEOUT_MS: int(1000).default(30_000), // a whole request must arrive within this, else 408
  HTTP_HEADERS_TIMEOUT_MS: int(1000).default(10_000), // bound on receiving the headers
  APP_ORIGIN: nonEmpty.optional(), // origins allowed to send state-changing browser requests (CSRF)
};

/** The listening server, its request bounds, its proxies and the browser origins it accepts. */
export function httpConfig(
  v: Values<typeof HTTP_VARIABLES>,
  deps: { isProduction: boolean; platform: string | undefined },
  report: Report,
) {
  const trustProxy = parseTrustProxy(v.TRUST_PROXY, deps, report.problems);
  if (v.HTTP_HEADERS_TIMEOUT_MS > v.HTTP_REQUEST_TIMEOUT_MS) {
    report.problems.push("HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS");
  }
  return {
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL,
    /** How often an ongoing failure's count is logged, and how long without one ends it. */
    logRepeatIntervalMs: v.LOG_REPEAT_INTERVAL_MS,
    /** Express `trust proxy`: a hop count or a list of addresses/CIDRs, never `true`. */
    trustProxy,
    /** Bounds on receiving a whole request / its headers (Node `requestTimeout` / `headersTimeout`). */
    http: { requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS, headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS },
    /** Origins allowed to send state-changing browser requests; empty means "the request's own origin". */
    appOrigins: parseOrigins(v.APP_ORIGIN, report.problems),
  };
}

export type HttpConfig = ReturnType<typeof httpConfig>;

/** `https://app.example.com[,https://other.example]` → exact origins (scheme, host, port; no path). */
function parseOrigins(value: string | undefined, problems: string[]): string[] {
  if (value === undefined) return [];
  const origins: string[] = [];
  for (const entry of value.split(",").map((s) => s.trim())) {
    const origin = canonicalOrigin(entry);
    if (!origin) {
      problems.push(
        `APP_ORIGIN: each entry must be an origin like https://app.example.com (scheme, host, optional port, nothing else) (got "${entry.slice(0, 80)}")`,
      );
      continue;
    }
    origins.push(origin);
  }
  return origins;
}

/**
 * Whose X-Forwarded-For to believe. Unset in production it is known only where the platform guarantees
 * its edge: Railway's sets X-Forwarded-For and is the one hop in front. Anywhere else a guess is wrong
 * one way or the other: trusting a hop that is not there lets every client choose the address it is
 * rate-limited by; trusting none behind a proxy puts every client in the proxy's one bucket.
 */
function parseTrustProxy(
  value: string | undefined,
  deps: { isProduction: boolean; platform: string | undefined },
  problems: string[],
): number | string[] {
  if (value === undefined) {
    if (!deps.isProduction) return 0;
    if (deps.platform === "Railway") return 1;
    problems.push(
      `TRUST_PROXY: required in production${deps.platform ? ` on ${deps.platform}` : ""}, where the server cannot know whether a proxy sets X-Forwarded-For; set TRUST_PROXY=false when clients connect to it directly, or the proxies in front of it: their hop count (e.g. TRUST_PROXY=1) or their addresses/CIDRs`,
    );
    return 0;
  }
  if (value.toLowerCase() === "false") return 0;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(",").map((s) => s.trim());
  const bad = entries.filter((e) => !isAddressOrCidr(e));
  if (bad.length > 0 || entries.length === 0) {
    problems.push(
      `TRUST_PROXY: must be false (no proxy), a hop count (e.g. 1 on Railway) or a comma-separated list of addresses/CIDRs, never "true" (got "${value}")`,
    );
    return 0;
  }
  if (entries.some(trustsEveryAddress)) {
    problems.push(
      `TRUST_PROXY: "${value}" trusts every address, so any client can choose the IP it is rate-limited by; use a hop count (1 on Railway) or the proxies' own addresses`,
    );
    return 0;
  }
  return entries;
}

/** `0.0.0.0/0`, `::/0`, any `/0`, and `::ffff:0:0/96` (every IPv4 address as IPv6). */
function trustsEveryAddress(entry: string): boolean {
  const [addr, bits] = entry.split("/");
  if (bits === undefined) return false;
  if (Number(bits) === 0) return true;
  return Number(bits) <= 96 && /^::ffff:(0+:0+|0\.0\.0\.0)$/i.test(addr ?? "");
}

function isAddressOrCidr(entry: string): boolean {
  const [addr, bits, ...rest] = entry.split("/");
  if (rest.length > 0 || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
