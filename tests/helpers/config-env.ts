import { expect } from "vitest";
import { ConfigError, type Env, loadConfig } from "../../server/config/config.js";

/** Long enough for every secret production checks (SESSION_SECRET, MFA_ENCRYPTION_KEY). */
export const STRONG_SECRET = "s".repeat(48);

/**
 * What production needs to start, so a test names only the variable it is about; an override of `undefined`
 * removes a variable.
 */
export function productionEnv(overrides: Env = {}): Env {
  return {
    NODE_ENV: "production",
    SESSION_SECRET: STRONG_SECRET,
    MFA_ENCRYPTION_KEY: STRONG_SECRET,
    PUBLIC_URL: "https://auth.example.com",
    TRUST_PROXY: "1",
    ...overrides,
  };
}

/** The problems a configuration that must be refused is refused for, one per variable. */
export function configProblems(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

/** The whole message a refused configuration stops the process with. */
export function configMessage(env: Env): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}
