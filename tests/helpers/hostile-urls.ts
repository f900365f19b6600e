/**
 * Hostile URLs, one class per block: `next` values that must never send a browser off this site, and
 * request paths and hosts that must never reach `/admin` on app.example.com for a user the rule
 * `app.example.com/admin=@corp.example.com` refuses. Shared by the route tests and the proxy tests.
 */

/** The origins the test apps allow `next` to return to. */
export const NEXT_ORIGINS = ["https://app.example.com", "https://partner.example.org"];

export const HOSTILE_NEXT: string[] = [
  // Scheme-relative, also after dot segments are resolved.
  "//evil.example/",
  "///evil.example/",
  "////evil.example",
  "//evil.example:443/",
  "/.//evil.example/phish",
  "/..//evil.example",
  "/./..//evil.example",
  "/a/..//evil.example",
  "/%2e//evil.example",
  "/%2E%2E//evil.example",
  "/.%2e//evil.example",
  // Backslashes, which browsers read as slashes.
  "/\\evil.example",
  "\\/evil.example",
  "\\\\evil.example",
  "/\\/evil.example",
  "/.\\evil.example",
  "/..\\evil.example",
  "https:\\\\evil.example",
  // Encoded slashes and backslashes, once and twice.
  "/%2f%2fevil.example",
  "/%2F/evil.example",
  "/%5cevil.example",
  "/%5C%5Cevil.example",
  "/%252f%252fevil.example",
  "/%252F/evil.example",
  "/%25%32%66evil.example",
  "%2f%2fevil.example",
  "/%c0%af/evil.example",
  // Control characters, CRLF, tabs and spaces.
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r\n/evil.example",
  "/x\r\nSet-Cookie: a=b",
  "/%0d%0aSet-Cookie:%20a=b",
  "/%00",
  "\u0000//evil.example",
  "/\u0000/evil.example",
  "\u007f//evil.example",
  " //evil.example",
  "/ /evil.example",
  // Other schemes.
  "javascript:alert(1)",
  "JavaScript:alert(1)",
  "java\tscript:alert(1)",
  " javascript:alert(1)",
  "javascript://%0aalert(1)",
  "data:text/html,<script>alert(1)</script>",
  "vbscript:msgbox(1)",
  "file:///etc/passwd",
  "ftp://evil.example/",
  // Other hosts, userinfo, empty hosts and lookalikes of an allowed origin.
  "https://evil.example/",
  "http://evil.example/",
  "https://app.example.com.evil.example/",
  "https://evil.example/https://app.example.com/",
  "https://app.example.com@evil.example/",
  "https://user:pw@app.example.com/",
  "https://@app.example.com/",
  "https://:@app.example.com/",
  "https:evil.example",
  "https:/evil.example",
  "https:///evil.example",
  "https://evil.example\\@app.example.com/",
  "https://app.example.com%2f@evil.example/",
  "https://app.example.com%2eevil.example/",
  "https://app.example.com\u3002evil.example/",
  // A Cyrillic "а": another host (xn--pp-8kc.example.com), never app.example.com.
  "https://\u0430pp.example.com/",
  "https://evil.example#app.example.com",
  "https://evil.example?app.example.com",
  "http://app.example.com/",
  "https://app.example.com:8443/",
  "https://[::1]/",
  // Paths on an allowed origin that a backend could read two ways.
  "https://app.example.com//evil.example",
  "https://app.example.com/%2f%2fevil.example",
  "https://app.example.com/\\evil.example",
  // Not a path at all.
  "evil.example",
  "evil.example/path",
  "./evil",
  "../evil",
  "?next=//evil.example",
  "#//evil.example",
  "/\uff0f\uff0fevil.example",
  "/\u2215evil.example",
  "/;//evil.example",
  "/%",
  "/%zz",
  "",
  "x".repeat(3000),
];

/** Safe `next` values and the canonical place each sends the browser to. */
export const SAFE_NEXT: Array<[string, string]> = [
  ["/reports?x=1#top", "/reports?x=1#top"],
  ["/a/../b", "/b"],
  ["/a/./b/", "/a/b/"],
  ["/a/%2e%2e/b", "/b"],
  ["/search?q=a%2Fb", "/search?q=a%2Fb"],
  ["https://app.example.com/a/b?c=d", "https://app.example.com/a/b?c=d"],
  ["https://APP.example.com:443/x", "https://app.example.com/x"],
  // Fullwidth letters map to ASCII under IDNA (the browser goes to the same host): the canonical form.
  ["https://\uff41\uff50\uff50.example.com/x", "https://app.example.com/x"],
  ["https://partner.example.org/", "https://partner.example.org/"],
];

/**
 * Request targets (path and query, as the client sends them) that must never reach /admin for a user
 * the rule refuses: as X-Forwarded-Uri to /auth/verify, and through nginx and Caddy to a backend.
 * `http` marks the ones an HTTP client can put on the request line as they are (no spaces or controls).
 */
export const HOSTILE_PATHS: string[] = [
  // The protected prefix itself and its case variants.
  "/admin",
  "/admin/",
  "/admin/secret.txt",
  "/admin/secret.txt?x=1",
  "/ADMIN/secret.txt",
  "/Admin/secret.txt",
  "/aDmIn/secret.txt",
  "/admin/SECRET.TXT",
  // Unreserved characters percent-encoded.
  "/%61dmin/secret.txt",
  "/%61%64%6d%69%6e/secret.txt",
  "/%41DMIN/secret.txt",
  "/ad%6din/secret.txt",
  "/adm%69n/secret.txt",
  "/admin/secret%2etxt",
  // Empty segments.
  "//admin/secret.txt",
  "///admin/secret.txt",
  "/admin//secret.txt",
  "//ADMIN//secret.txt",
  // Dot segments, plain and encoded.
  "/./admin/secret.txt",
  "/public/../admin/secret.txt",
  "/public/%2e%2e/admin/secret.txt",
  "/public/%2E%2E/admin/secret.txt",
  "/public/.%2e/admin/secret.txt",
  "/public/%2e./admin/secret.txt",
  "/../admin/secret.txt",
  "/x/../../admin/secret.txt",
  "/admin/./secret.txt",
  "/admin/x/../secret.txt",
  "/%2e%2e/admin/secret.txt",
  "/%2e/admin/secret.txt",
  // Encoded slashes and backslashes.
  "/public/..%2fadmin/secret.txt",
  "/public/..%2Fadmin/secret.txt",
  "/public%2f..%2fadmin%2fsecret.txt",
  "/%2fadmin/secret.txt",
  "/%2Fadmin%2Fsecret.txt",
  "/admin%2fsecret.txt",
  "/%5cadmin/secret.txt",
  "/public/..%5cadmin/secret.txt",
  "/admin%5csecret.txt",
  // Backslashes.
  "/public\\..\\admin\\secret.txt",
  "/\\admin/secret.txt",
  "/admin\\secret.txt",
  // Double encoding.
  "/%2561dmin/secret.txt",
  "/public/%252e%252e/admin/secret.txt",
  "/public/..%252fadmin/secret.txt",
  "/%252fadmin/secret.txt",
  // Path parameters (servlet containers drop them), plain and encoded.
  "/admin;x/secret.txt",
  "/admin;/secret.txt",
  "/admin/secret.txt;jsessionid=1",
  "/;/admin/secret.txt",
  "/public;/../admin/secret.txt",
  "/public/..;/admin/secret.txt",
  "/admin%3bx/secret.txt",
  // NUL and other encoded control characters.
  "/admin/secret.txt%00",
  "/admin/secret.txt%00.png",
  "/%00/admin/secret.txt",
  "/admin%0a/secret.txt",
  "/admin%0d%0a/secret.txt",
  "/admin%09/secret.txt",
  // Names Windows reads without their trailing dots and spaces.
  "/admin./secret.txt",
  "/admin%2e/secret.txt",
  "/admin%20/secret.txt",
  "/admin.%20./secret.txt",
  // Overlong and invalid UTF-8.
  "/%c0%ae%c0%ae/admin/secret.txt",
  "/public/..%c0%afadmin/secret.txt",
  "/admin%ff/secret.txt",
  // Through the prefixes the examples send to the auth server without asking it.
  "/assets/../admin/secret.txt",
  "/auth/%2e%2e/admin/secret.txt",
  "/login/../admin/secret.txt",
  "/assets/..%2fadmin/secret.txt",
  // Not an absolute path.
  "admin/secret.txt",
  "*",
  "http://app.example.com/admin/secret.txt",
];

/** Targets only /auth/verify sees (an HTTP client cannot put them on a request line as they are). */
export const HOSTILE_HEADER_ONLY_PATHS: string[] = [
  "",
  "/admin#x",
  "/admin /secret.txt",
  "/admin\t/secret.txt",
  "/\u00e4dmin/../admin/secret.txt",
  "/admin%",
  "/admin%zz/secret.txt",
];

/** Hosts (with the X-Forwarded-Proto they come with) that are app.example.com, or unreadable. */
export const HOSTILE_HOSTS: Array<[host: string, proto: string]> = [
  ["app.example.com.", "https"],
  ["APP.EXAMPLE.COM", "https"],
  ["App.Example.Com.", "https"],
  ["app.example.com:443", "https"],
  ["app.example.com.:443", "https"],
  ["app.example.com:0443", "https"],
  ["app.example.com:80", "http"],
  ["app.example.com:8443", "https"],
  ["app.example.com:80", "https"],
  // A fullwidth "a", as its UTF-8 bytes arrive in a header (Node reads header bytes as Latin-1).
  [Buffer.from("\uff41pp.example.com").toString("latin1"), "https"],
  ["app.example.com..", "https"],
  ["user@app.example.com", "https"],
  ["app%2eexample.com", "https"],
  ["app.example.com/x", "https"],
  ["app.example.com:99999", "https"],
];

/** Paths the outsider may open: the rule's prefix only matches on segment boundaries. */
export const ALLOWED_PATHS: string[] = [
  "/public/readme.txt",
  "/administrator",
  "/admin-guide/x",
  "/admin.txt",
  "/public?next=/admin",
  "/%7Euser/x",
  "/public/a.b/c",
];
