import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../server/config/config.js";

const configuration = readFileSync("docs/reference/configuration.md", "utf8");
const envExample = readFileSync(".env.example", "utf8");

/** The variable names the configuration reference's tables document (first cell of each row). */
function documentedVariables(): string[] {
  return configuration
    .split("\n")
    .filter((line) => /^\| `[A-Z]/.test(line))
    .flatMap((line) =>
      [...(line.split("|")[1] ?? "").matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string),
    );
}

describe("documentation stays true", () => {
  it.each(CONFIG_VARIABLES)("%s is in docs/reference/configuration.md and in .env.example", (name) => {
    expect(documentedVariables()).toContain(name);
    expect(envExample).toMatch(new RegExp(`^${name}=`, "m"));
  });

  it("the configuration reference and .env.example name no variable the server does not read", () => {
    const names = [...envExample.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(names.filter((n) => !CONFIG_VARIABLES.includes(n as string))).toEqual([]);
    expect(documentedVariables().filter((n) => !CONFIG_VARIABLES.includes(n))).toEqual([]);
  });
});
