import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DEPENDENCY_REASONS,
  ERROR_CATALOG,
  type ErrorCode,
  type ErrorEntry,
} from "../../server/lib/error-catalog.js";
import { HttpError } from "../../server/lib/errors.js";
import { section } from "../helpers/markdown.js";

const errorsPage = readFileSync("docs/reference/errors.md", "utf8");
const healthPage = readFileSync("docs/reference/health-and-metrics.md", "utf8");

/** The rows of the error table in docs/reference/errors.md: `| 400 | \`invalid_json\` | when |`. */
function documentedErrorTable(): Array<{ status: number; code: string; when: string }> {
  const header = errorsPage.search(/^\| Status +\| Code +\| When +\|$/m);
  expect(header).toBeGreaterThan(-1);
  const rows = errorsPage.slice(header).split("\n").slice(2);
  const table = rows.slice(
    0,
    rows.findIndex((line) => !line.startsWith("|")),
  );
  return table.map((line) => {
    const [status, code, when] = line
      .split("|")
      .slice(1, 4)
      .map((cell) => cell.trim());
    return {
      status: Number(status),
      code: /^`([a-z_]+)`$/.exec(code ?? "")?.[1] ?? `bad cell ${code}`,
      when: when ?? "",
    };
  });
}

describe("the error catalog", () => {
  it("is the error table of docs/reference/errors.md: every code with its status, nothing stale, nothing twice", () => {
    const rows = documentedErrorTable();
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
    for (const row of rows) expect(row.status, row.code).toBe(ERROR_CATALOG[row.code as ErrorCode].status);
  });

  it("documents Retry-After exactly where the catalog sets it", () => {
    for (const row of documentedErrorTable()) {
      const entry: ErrorEntry = ERROR_CATALOG[row.code as ErrorCode];
      if (entry.retryAfter !== undefined)
        expect(row.when, row.code).toContain(`Retry-After: ${entry.retryAfter}`);
      else if (row.code !== "rate_limited") expect(row.when, row.code).not.toMatch(/Retry-After: \d/);
    }
  });

  it("builds errors from a code: status, default message, Retry-After only on transient refusals", () => {
    const unavailable = new HttpError("service_unavailable");
    expect(unavailable).toMatchObject({ status: 503, code: "service_unavailable", retryAfter: 5 });
    expect(unavailable.message).toBe(ERROR_CATALOG.service_unavailable.message);
    expect(new HttpError("busy").retryAfter).toBe(5);
    expect(new HttpError("not_configured")).toMatchObject({ status: 503, retryAfter: undefined });
    expect(new HttpError("not_found", { message: "No such session" })).toMatchObject({
      status: 404,
      message: "No such session",
    });
    const limited = new HttpError("rate_limited", { retryAfter: 12, details: { retryAfter: 12 } });
    expect(limited).toMatchObject({ status: 429, retryAfter: 12, details: { retryAfter: 12 } });
  });

  it("has snake_case codes, 4xx/5xx statuses and a message for each", () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.message.length).toBeGreaterThan(0);
    }
  });
});

describe("the dependency reasons", () => {
  it("are each explained in the table of what a failing check says (docs/reference/health-and-metrics.md)", () => {
    const table = section(healthPage, "What a failing check says")
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    const documented = table.flatMap((row) =>
      [...(row.split("|")[1] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]),
    );
    expect(Object.keys(DEPENDENCY_REASONS).filter((code) => !documented.includes(code))).toEqual([]);
  });
});
