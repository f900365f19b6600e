// A thin typed fetch wrapper over the server's HTTP API: one `request(route, options)` per call, the route
// named as in the API reference (`"POST /auth/device/code"`, `"DELETE /auth/sessions/:id"`). Plain
// JavaScript with no dependency (Node 20's fetch, or a browser's); TypeScript reads its types from
// api-client.d.mts, which takes every route's body and answers from the generated api-types.ts.

/** A client for the server at `baseUrl`; `token` (a bearer session or personal access token) is sent on every request. */
export function createClient({ baseUrl, token, fetch: fetchImpl = globalThis.fetch, headers = {} }) {
  const base = String(baseUrl).replace(/\/$/, "");

  async function request(route, { params = {}, query, body, headers: extra = {} } = {}) {
    const [method, template] = route.split(" ");
    const path = template.replace(/:([A-Za-z]+)/g, (_, name) => {
      if (params[name] === undefined) throw new TypeError(`${route}: missing path parameter ${name}`);
      return encodeURIComponent(String(params[name]));
    });
    const search = query ? `?${new URLSearchParams(query)}` : "";
    const res = await fetchImpl(`${base}${path}${search}`, {
      method,
      headers: {
        Accept: "application/json",
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
        ...extra,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const json = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
    return {
      status: res.status,
      ok: res.ok,
      body: json ? JSON.parse(text) : text || undefined,
      headers: res.headers,
    };
  }

  return { request, withToken: (next) => createClient({ baseUrl, token: next, fetch: fetchImpl, headers }) };
}
