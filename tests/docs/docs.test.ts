import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../server/config/config.js";

const readme = readFileSync("README.md", "utf8");
const envExample = readFileSync(".env.example", "utf8");

describe("documentation stays true", () => {
  it.each(CONFIG_VARIABLES)("%s is in the README and in .env.example", (name) => {
    expect(readme).toContain(`\`${name}\``);
    expect(envExample).toMatch(new RegExp(`^${name}=`, "m"));
  });

  it(".env.example names no variable the server does not read", () => {
    const names = [...envExample.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(names.filter((n) => !CONFIG_VARIABLES.includes(n as string))).toEqual([]);
  });
});
