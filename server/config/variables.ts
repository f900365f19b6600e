import { z } from "zod";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  static readonly code = "invalid_config";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** A section's variables: name → schema of its raw string value. */
export type Variables = Record<string, z.ZodType>;
/** The parsed values of a section's variables. */
export type Values<V extends Variables> = { [K in keyof V]: z.output<V[K]> };

/** What loading found wrong: problems stop the start, warnings are logged once the logger exists. */
export interface Report {
  problems: string[];
  warnings: string[];
}

export const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
export const nonEmpty = z.string().min(1);

const SECRETS = new WeakSet<z.ZodType>();

/** Marks a variable whose value never appears in an error message. */
export function secret<T extends z.ZodType>(type: T): T {
  SECRETS.add(type);
  return type;
}

// A safety net for secrets added without `secret()`; names like KEY_PREFIX are not secrets.
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|API_KEY/;

/** The value as an error message may show it: secrets hidden, URLs without their credentials. */
export function shown(name: string, type: z.ZodType, value: string): string {
  if (SECRETS.has(type) || SECRET_NAME.test(name)) return "***";
  if (name.endsWith("_URL")) return redactUrl(value);
  return value.slice(0, 80);
}

/**
 * `redis://default:secret@host:6379` → `redis://default:***@host:6379`; a user name without a password is
 * a token and hidden too; unparsable input is hidden whole.
 */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    else if (url.username) url.username = "***";
    return url.toString();
  } catch {
    return "***";
  }
}

/** Empty strings count as unset: Railway and .env files often leave `VAR=`. */
export function cleanEnv(env: Env): Env {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== "") cleaned[k] = v.trim();
  return cleaned;
}

/**
 * Each variable is parsed on its own so that one bad value does not hide the others; a bad one is
 * reported and takes its default, so the cross-variable checks still run.
 */
export function parseVariables<V extends Variables>(variables: V, env: Env, problems: string[]): Values<V> {
  const values: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(variables)) {
    const result = type.safeParse(env[name]);
    if (result.success) {
      values[name] = result.data;
      continue;
    }
    const message = result.error.issues[0]?.message ?? "is invalid";
    const value = env[name];
    problems.push(`${name}: ${message}${value === undefined ? "" : ` (got "${shown(name, type, value)}")`}`);
    values[name] = type.safeParse(undefined).data;
  }
  return values as Values<V>;
}
