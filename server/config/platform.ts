import { z } from "zod";
import { type Env, int, type Report, type Values } from "./variables.js";

export const PLATFORM_VARIABLES = {
  NODE_ENV: z.enum(["production", "development", "test"]).optional(), // unset: production on a hosting platform, else development
  RAILWAY_DEPLOYMENT_DRAINING_SECONDS: int(0, 86_400).optional(), // set by Railway: SIGTERM to SIGKILL; sizes the shutdown
  RAILWAY_PUBLIC_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, "must be a host name")
    .optional(), // set by Railway: the service's public domain; links in mails use it when PUBLIC_URL and APP_ORIGIN are unset
};

/** Variables that hosting platforms set in every deployment; any of them means "this is deployed". */
const PLATFORM_MARKERS = [
  ["RAILWAY_ENVIRONMENT", "Railway"],
  ["RAILWAY_ENVIRONMENT_NAME", "Railway"],
  ["RAILWAY_PROJECT_ID", "Railway"],
  ["RAILWAY_SERVICE_ID", "Railway"],
  ["RAILWAY_DEPLOYMENT_ID", "Railway"],
  ["RENDER", "Render"],
  ["FLY_APP_NAME", "Fly.io"],
  ["DYNO", "Heroku"],
  ["K_SERVICE", "Cloud Run"],
] as const;

/** The hosting platform the environment reveals, if any. */
export function detectPlatform(env: Env): string | undefined {
  return PLATFORM_MARKERS.find(([name]) => (env[name] ?? "").trim() !== "")?.[1];
}

/** Where the process runs: a deployed instance must never get the development defaults. */
export function platformConfig(v: Values<typeof PLATFORM_VARIABLES>, env: Env, report: Report) {
  const platform = detectPlatform(env);
  const nodeEnv = v.NODE_ENV ?? (platform ? "production" : "development");
  const isProduction = nodeEnv === "production";
  if (platform && !isProduction) {
    report.warnings.push(
      `NODE_ENV=${nodeEnv} on ${platform}: development defaults (cookie without Secure, no trusted proxy, a random per-process secret) are active on a deployed instance`,
    );
  }
  return {
    env: nodeEnv,
    isProduction,
    /** Hosting platform detected from its variables (e.g. "Railway"), if any. */
    platform,
  };
}

export type PlatformConfig = ReturnType<typeof platformConfig>;
