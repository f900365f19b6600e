import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/fixtures.js";
import { proseLines } from "../helpers/markdown.js";
import { mountedRoutes } from "../helpers/routes.js";

const page = proseLines(readFileSync("docs/reference/http-api.md", "utf8")).join("\n");

const METHODS = "GET|POST|PUT|PATCH|DELETE";

/** Content-hashed asset names (`style.6743d4413cac.css`) are documented as `style.<hash>.css`. */
function documentedForm(route: string): string {
  return route.replace(/\.[0-9a-f]{8,}\./, ".<hash>.");
}

/** Every `METHOD /path` the page names in code (`GET /auth/me`, `GET /password/reset?token=…`). */
function documentedRoutes(): string[] {
  return [...page.matchAll(new RegExp(`\`(${METHODS}) (/[^\`?\\s]*)`, "g"))].map((m) => `${m[1]} ${m[2]}`);
}

describe("docs/reference/http-api.md", () => {
  let routes: string[];

  beforeAll(async () => {
    // Every optional router mounted: operator endpoints need ADMIN_API_KEY, the team example its category.
    const { app } = await testApp({
      env: { ADMIN_API_KEY: "docs-admin-key-0123456789", CACHE_CATEGORIES: "profiles:60" },
    });
    routes = [...new Set(mountedRoutes(app).map(documentedForm))];
  });

  it("the app mounts the routes this test expects to find (the walk reaches nested routers)", () => {
    expect(routes).toEqual(
      expect.arrayContaining([
        "GET /health/ready",
        "GET /health",
        "POST /auth/login",
        "DELETE /auth/sessions/:id",
        "GET /api/echo-profile",
        "POST /api/cache/invalidate",
        "GET /assets/style.<hash>.css",
      ]),
    );
    expect(routes.length).toBeGreaterThan(40);
  });

  it("names every route the app mounts", () => {
    const documented = new Set(documentedRoutes());
    expect(routes.filter((route) => !documented.has(route))).toEqual([]);
  });

  it("names no route the app does not mount", () => {
    const mounted = new Set(routes);
    expect([...new Set(documentedRoutes())].filter((route) => !mounted.has(route))).toEqual([]);
  });
});
