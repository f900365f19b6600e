import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { anchors, documentationPages, linkTargets, readPage, slug } from "../helpers/markdown.js";

const pages = documentationPages();

/** A relative link's file (relative to the repository root) and anchor; undefined for an external one. */
function resolve(from: string, target: string): { file: string; anchor?: string } | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const [path = "", anchor] = target.split("#");
  const file = path === "" ? from : normalize(join(dirname(from), decodeURIComponent(path)));
  return { file, anchor: anchor === undefined ? undefined : decodeURIComponent(anchor) };
}

describe("documentation links", () => {
  it.each(pages)("every relative link in %s reaches a file and, with #, a heading there", (page) => {
    const broken = linkTargets(readPage(page)).filter((target) => {
      const link = resolve(page, target);
      if (!link) return false;
      if (link.file.startsWith("..") || !existsSync(link.file)) return true;
      if (link.anchor === undefined) return false;
      if (!link.file.endsWith(".md") || statSync(link.file).isDirectory()) return true;
      return !anchors(readPage(link.file)).has(link.anchor);
    });
    expect(broken).toEqual([]);
  });

  it("every page under docs/ is reachable from the README", () => {
    const reached = new Set<string>(["README.md"]);
    const queue = ["README.md"];
    for (let page = queue.shift(); page !== undefined; page = queue.shift()) {
      for (const target of linkTargets(readPage(page))) {
        const file = resolve(page, target)?.file;
        if (file?.endsWith(".md") && existsSync(file) && !reached.has(file)) {
          reached.add(file);
          queue.push(file);
        }
      }
    }
    expect(pages.filter((page) => !reached.has(page))).toEqual([]);
  });

  it("every image under docs/ is shown by a page", () => {
    const shown = new Set(
      pages.flatMap((page) => linkTargets(readPage(page)).map((t) => resolve(page, t)?.file)),
    );
    const images = readdirSync("docs", { recursive: true, encoding: "utf8" })
      .filter((name) => /\.(png|jpe?g|svg|gif)$/.test(name))
      .map((name) => join("docs", name));
    expect(images.filter((image) => !shown.has(image))).toEqual([]);
  });

  it("the checks themselves work: GitHub's anchors, broken targets found", () => {
    expect(slug("Jobs: the mail queue")).toBe("jobs-the-mail-queue");
    expect(slug("An existing service that used `railway.json`")).toBe(
      "an-existing-service-that-used-railwayjson",
    );
    expect(slug("GET /auth/verify")).toBe("get-authverify");
    expect([...anchors("# A\n## B\n```\n# not a heading\n```\n## B\n")]).toEqual(["a", "b", "b-1"]);
    expect(linkTargets("[a](x.md#y) `[b](no.md)` ![c](i.png)\n```\n[d](no.md)\n```")).toEqual([
      "x.md#y",
      "i.png",
    ]);
    expect(resolve("docs/guides/deploy.md", "../reference/errors.md#error-codes")).toEqual({
      file: "docs/reference/errors.md",
      anchor: "error-codes",
    });
  });
});

/** Paths the code and the docs cite, e.g. `tests/docs/links.test.ts` or docs/reference/errors.md#error-codes. */
const CITED_PATH =
  /(?<![\w./-])((?:server|tests|bench|examples|scripts|shared|docs|\.railway|\.ci)\/[\w./-]*[\w-])(#[\w-]+)?/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(path);
    return /\.(ts|mjs|js|sh|conf|md)$|^Caddyfile$|^run$/.test(entry.name) ? [path] : [];
  });
}

/** Every repository path a file names, except generated ones and placeholders (`<...>`, `*`). */
function citedPaths(text: string): Array<{ path: string; anchor?: string }> {
  return [...text.matchAll(CITED_PATH)]
    .map((m) => ({ path: (m[1] as string).replace(/[.]+$/, ""), anchor: m[2]?.slice(1) }))
    .filter(({ path }) => !/^(dist|test-results|bench\/results)(\/|$)/.test(path));
}

describe("paths cited in code, comments and docs", () => {
  const citing = [
    ...pages,
    ...["server", "tests", "bench", "examples", "scripts", ".railway", ".ci"].flatMap(sourceFiles),
    ".env.example",
  ];

  it("exist (and a cited #anchor is a heading of that page)", () => {
    const missing = citing.flatMap((file) =>
      citedPaths(readFileSync(file, "utf8"))
        .filter(({ path, anchor }) => {
          if (!existsSync(path)) return true;
          return anchor !== undefined && path.endsWith(".md") && !anchors(readPage(path)).has(anchor);
        })
        .map(({ path, anchor }) => `${file}: ${anchor ? `${path}#${anchor}` : path}`),
    );
    expect(missing).toEqual([]);
  });

  it("cite docs pages, not sections of the front door by name (README.md is short and changes)", () => {
    const citation = /README(?:'s\b| ["“,(]| step\b| section\b| table\b|\))/;
    expect(
      citing
        .filter((file) => !file.endsWith(".md") && file !== "tests/docs/links.test.ts")
        .filter((file) => citation.test(readFileSync(file, "utf8"))),
    ).toEqual([]);
    expect(citation.test(`(README "Layout")`) && citation.test("the README's table")).toBe(true);
  });
});
