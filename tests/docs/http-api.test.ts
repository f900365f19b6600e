import { readFileSync } from "node:fs";
import type { Express } from "express";
import { beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/fixtures.js";
import { proseLines } from "../helpers/markdown.js";

const page = proseLines(readFileSync("docs/reference/http-api.md", "utf8")).join("\n");

const METHODS = "GET|POST|PUT|PATCH|DELETE";

/** The parts of Express 5's router (router 2) this test reads: a layer is a route or a mounted router. */
interface RouterLayer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

function joinPath(prefix: string, path: string): string {
  const joined = `${prefix}/${path}`.replace(/\/+/g, "/");
  return joined.length > 1 ? joined.replace(/\/$/, "") : joined;
}

/** Every `METHOD /path` the app's router answers, walking mounted routers with their mount paths. */
function mountedRoutes(stack: RouterLayer[], prefix = ""): string[] {
  return stack.flatMap((layer) => {
    const mounts = [layer.rawPath ?? "/"].flat();
    if (layer.route) {
      const paths = [layer.route.path].flat().map(String);
      return Object.keys(layer.route.methods)
        .filter((method) => method !== "_all")
        .flatMap((method) => paths.map((path) => `${method.toUpperCase()} ${joinPath(prefix, path)}`));
    }
    const inner = layer.handle?.stack;
    if (!inner) return [];
    return mounts.flatMap((mount) => mountedRoutes(inner, joinPath(prefix, String(mount))));
  });
}

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
    const router = (app as Express & { router: { stack: RouterLayer[] } }).router;
    routes = [...new Set(mountedRoutes(router.stack).map(documentedForm))];
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
