import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, parseRules } from "../../server/config/forward-auth-rules.js";
import { canonicalHost, canonicalNext, canonicalPath } from "../../server/lib/canonical-url.js";

describe("canonicalPath", () => {
  it.each([
    ["/admin/users", "/admin/users"],
    ["/%61dmin/%75sers", "/admin/users"],
    ["/a%7eb%2D%5f", "/a~b-_"],
    ["/caf%c3%a9", "/caf%C3%A9"],
    ["/public/../admin", "/admin"],
    ["/public/%2e%2e/admin", "/admin"],
    ["/a/b/..", "/a/"],
    ["/a/./b/.", "/a/b/"],
    ["/../../x", "/x"],
  ])("reads %s as %s", (target, path) => {
    const result = canonicalPath(target);
    expect("refused" in result ? result.refused : result.path).toBe(path);
  });

  it("keeps the query apart and as sent", () => {
    expect(canonicalPath("/a?b=%2F&c=/../d")).toEqual({ path: "/a", search: "?b=%2F&c=/../d" });
  });

  it.each([
    "admin",
    "",
    "http://app.example.com/admin",
    "//admin",
    "/a//b",
    "/a/",
    "/a\\b",
    "/a;b",
    "/a%3bb",
    "/a#b",
    "/a b",
    "/a\tb",
    "/a\u00e9",
    "/a%2fb",
    "/a%5Cb",
    "/a%00",
    "/a%0d%0a",
    "/a%252f",
    "/a%25",
    "/a%",
    "/a%zz",
    "/a%c0%af",
    "/a%ff",
  ])("refuses %j", (target) => {
    if (target === "/a/") {
      expect(canonicalPath(target)).toEqual({ path: "/a/", search: "" });
      return;
    }
    expect(canonicalPath(target)).toHaveProperty("refused");
  });
});

describe("canonicalHost", () => {
  it.each([
    ["App.Example.COM", "https", "app.example.com"],
    ["app.example.com.", "https", "app.example.com"],
    ["app.example.com:443", "https", "app.example.com"],
    ["app.example.com:443", "http", "app.example.com:443"],
    ["app.example.com:80", "http", "app.example.com"],
    ["app.example.com.:8443", "https", "app.example.com:8443"],
    ["bücher.example", "https", "xn--bcher-kva.example"],
    ["\uff41pp.example.com", "https", "app.example.com"],
    ["[::1]:443", "https", "[::1]"],
  ])("reads %s (%s) as %s", (host, proto, expected) => {
    expect(canonicalHost(host, proto)).toBe(expected);
  });

  it.each([
    "",
    "app.example.com..",
    ".app.example.com",
    "user@app.example.com",
    "app%2eexample.com",
    "app.example.com/x",
    "app.example.com\\x",
    "app.example.com:99999",
    "app example.com",
  ])("refuses %j", (host) => {
    expect(canonicalHost(host, "https")).toBeUndefined();
  });
});

describe("canonicalNext", () => {
  it("resolves dot segments before it checks for a second slash", () => {
    expect(canonicalNext("/.//evil.example/phish", [])).toBeUndefined();
    expect(canonicalNext("/a/../b?c#d", [])).toBe("/b?c#d");
  });
});

// A backend behind nginx or Caddy (both pass the request URI on as the client sent it) reads the path
// in one of these ways; each is documented behaviour of a real server or file system.
const decodeOnce = (s: string) =>
  s.replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
function resolveDots(path: string, mergeSlashes: boolean): string {
  const out: string[] = [];
  const segments = path.split("/").slice(1);
  for (const s of segments) {
    if (s === "..") out.pop();
    else if (s === "." || (mergeSlashes && s === "")) continue;
    else out.push(s);
  }
  const last = segments[segments.length - 1];
  return `/${out.join("/")}${out.length > 0 && (last === "" || last === "." || last === "..") ? "/" : ""}`;
}
const pathOf = (target: string) => target.split("?")[0] as string;
const BACKEND_READINGS: Record<string, (target: string) => string> = {
  // nginx `root`/`alias`: decodes once, resolves dot segments, merges slashes (merge_slashes on).
  nginxStatic: (t) => resolveDots(decodeOnce(pathOf(t)), true),
  // Caddy `file_server` (Go): URL.Path decoded once, then path.Clean.
  caddyFileServer: (t) => resolveDots(decodeOnce(pathOf(t)), true),
  // A router that matches the raw path without resolving anything.
  rawRouter: (t) => pathOf(t),
  // Windows (IIS, a share): `\` is a separator, trailing dots and spaces of a name are dropped.
  windows: (t) =>
    resolveDots(
      decodeOnce(pathOf(t))
        .replace(/\\/g, "/")
        .replace(/(?<=[^/.])[. ]+(?=\/|$)/g, ""),
      true,
    ),
  // Servlet containers (Tomcat): `;parameters` dropped from each segment before decoding.
  servlet: (t) => resolveDots(decodeOnce(pathOf(t).replace(/;[^/]*/g, "")), false),
  // A backend that decodes twice (an app decoding again what its framework decoded).
  doubleDecode: (t) => resolveDots(decodeOnce(decodeOnce(pathOf(t))), true),
  // A lenient UTF-8 decoder that accepts overlong forms (%c0%af is "/").
  overlongUtf8: (t) =>
    resolveDots(
      decodeOnce(
        pathOf(t)
          .replace(/%c0%af/gi, "/")
          .replace(/%c0%ae/gi, "."),
      ),
      true,
    ),
};

const underAdmin = (path: string) => /^\/admin(\/|$)/.test(path.toLowerCase());

describe("property: a path the server allows is never one a backend reads as denied", () => {
  const rules = parseRules("app.example.com/, app.example.com/admin=@corp.example.com", []);
  const piece = fc.constantFrom(
    "/",
    "admin",
    "ADMIN",
    "Admin",
    "adm",
    "in",
    "public",
    "x",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    ";",
    ";x",
    "%3b",
    "%25",
    "%252f",
    "%252e",
    "%61",
    "%41",
    "%64",
    "%6d",
    "%69",
    "%6e",
    "%00",
    "%20",
    " ",
    "?",
    "#",
    "%c0%af",
    "%c0%ae",
    "//",
    "%",
  );
  const target = fc
    .tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 12 }))
    .map(([slash, parts]) => `${slash ? "/" : ""}${parts.join("")}`);

  it("holds for every generated path (nginx, Caddy, Windows, servlet, double-decoding readings)", () => {
    fc.assert(
      fc.property(target, (t) => {
        if (decide(rules, "app.example.com", t, "outsider@example.com") !== "allowed") return true;
        for (const [name, read] of Object.entries(BACKEND_READINGS)) {
          const path = read(t);
          if (underAdmin(path)) throw new Error(`${JSON.stringify(t)} allowed, but ${name} reads ${path}`);
        }
        return true;
      }),
      { numRuns: 20_000 },
    );
  });

  it("still lets the admin in, and the outsider to every other page", () => {
    expect(decide(rules, "app.example.com", "/admin/users", "boss@corp.example.com")).toBe("allowed");
    expect(decide(rules, "app.example.com", "/administrator", "outsider@example.com")).toBe("allowed");
    expect(decide(rules, "app.example.com", "/public/a.b/c", "outsider@example.com")).toBe("allowed");
  });
});
