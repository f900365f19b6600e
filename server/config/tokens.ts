import { z } from "zod";
import { int, type Values } from "./variables.js";

/** A scope name: a lower-case letter, then lower-case letters, digits and `:._-` (e.g. `reports:read`). */
export const SCOPE_PATTERN = /^[a-z][a-z0-9:._-]{0,63}$/;

const scopeList = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(
          SCOPE_PATTERN,
          "each scope must be a lower-case letter, then lower-case letters, digits or :._-",
        ),
    ),
  );

export const TOKEN_VARIABLES = {
  TOKEN_SCOPES: scopeList.optional(), // comma-separated scopes personal access tokens may carry, e.g. deploy,reports:read
  TOKEN_MAX_DAYS: int(1, 3650).default(365), // the longest lifetime a personal access token may ask for, days
};

/** Personal access tokens: the scopes a team defines and the longest lifetime. */
export function tokensConfig(v: Values<typeof TOKEN_VARIABLES>) {
  return {
    tokens: {
      /** The only scopes a token may carry; empty: tokens carry none (they reach routes that ask for none). */
      scopes: [...new Set(v.TOKEN_SCOPES ?? [])],
      maxDays: v.TOKEN_MAX_DAYS,
    },
  };
}

export type TokensConfig = ReturnType<typeof tokensConfig>["tokens"];
