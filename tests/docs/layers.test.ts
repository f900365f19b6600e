import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The server's layers, lowest first (docs/internals/architecture.md#layers). A file may import from its own
 * layer and the ones before it, never from a later one: domain code never borrows a helper from a page or a
 * route.
 */
const LAYERS = [
  ["lib", "../shared"],
  ["config"],
  ["infra"],
  ["domain"],
  ["http"],
  ["process", "main.ts", "worker.ts"],
] as const;

function layerOf(file: string): number {
  const rel = posix.normalize(file);
  const top = rel.startsWith("../") ? rel.split("/").slice(0, 2).join("/") : (rel.split("/")[0] ?? "");
  const index = LAYERS.findIndex((names) => (names as readonly string[]).includes(top));
  if (index < 0)
    throw new Error(`${file} is in no layer: add its folder to LAYERS and to docs/internals/architecture.md`);
  return index;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every relative import of a file (static, dynamic and `export … from`), as a path relative to server/. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map(
    (m) => m[1] as string,
  );
  return specifiers.map((s) =>
    relative("server", join(dirname(file), s))
      .split("\\")
      .join("/"),
  );
}

const files = sourceFiles("server");

describe("layers", () => {
  it("every server file is in a layer", () => {
    for (const file of files) expect(() => layerOf(relative("server", file))).not.toThrow();
  });

  it("no file imports from a later layer", () => {
    const violations = files.flatMap((file) => {
      const from = layerOf(relative("server", file));
      return imports(file)
        .filter((target) => layerOf(target) > from)
        .map((target) => `${file} imports server/${target}`);
    });
    expect(violations).toEqual([]);
  });

  it("catches an import against the order (the check itself works)", () => {
    expect(layerOf("domain/auth/account-service.ts")).toBeLessThan(layerOf("http/pages/views.ts"));
    expect(layerOf("../shared/validation.ts")).toBe(0);
    expect(() => layerOf("nowhere/x.ts")).toThrow(/no layer/);
  });
});
