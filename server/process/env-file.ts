import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import type { Env } from "../config/config.js";

/**
 * Copies the variables of a `.env` file into `env`, never over a variable the environment already has
 * (the platform's or the shell's value wins). Returns the names it set; nothing when the file is absent.
 * With NODE_ENV=test the file is ignored, so a developer's `.env` cannot point the test suite's servers
 * at their own Redis or database.
 */
export function loadEnvFile(path = ".env", env: Env = process.env): string[] {
  if (env.NODE_ENV === "test" || !existsSync(path)) return [];
  const parsed = parseEnv(readFileSync(path, "utf8")) as Record<string, string>;
  const set: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
