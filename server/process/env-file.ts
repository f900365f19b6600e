import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import type { Env } from "../config/config.js";

/**
 * Copies the variables of a `.env` file into `env`, never over a variable the environment already has
 * (the platform's or the shell's value wins). Returns the names it set; nothing when the file is absent.
 */
export function loadEnvFile(path = ".env", env: Env = process.env): string[] {
  if (!existsSync(path)) return [];
  const parsed = parseEnv(readFileSync(path, "utf8")) as Record<string, string>;
  const set: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
