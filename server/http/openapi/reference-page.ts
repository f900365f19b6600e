import { type HtmlValue, html } from "../../lib/html.js";
import { layout } from "../pages/views.js";
import type { OpenApiDocument } from "./document.js";

type Schema = Record<string, unknown>;
interface OperationObject {
  summary: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  "x-token-scope"?: string;
}

const WHO: Record<string, string> = {
  sessionCookie: "session cookie",
  bearerSession: "bearer session",
  personalToken: "personal access token",
  adminKey: "admin key",
};

function who(security: OperationObject["security"]): string {
  if (security.length === 0) return "anyone";
  return security
    .map((entry) => {
      const [name, scopes] = Object.entries(entry)[0] ?? ["anyone", []];
      return `${WHO[name] ?? name}${scopes.length ? ` (${scopes.join(", ")})` : ""}`;
    })
    .join(", ");
}

/** `email` (string, 1–254), one line per field of a JSON body. */
function fields(schema: Schema | undefined): HtmlValue {
  if (!schema) return "none";
  const variants = (schema.anyOf as Schema[] | undefined) ?? [schema];
  return variants.map((variant, i) => {
    const properties = (variant.properties ?? {}) as Record<string, Schema>;
    const required = new Set((variant.required as string[] | undefined) ?? []);
    const names = Object.entries(properties).map(
      ([name, p]) => html`<code>${name}</code>${required.has(name) ? "" : "?"} <small>${describe(p)}</small>`,
    );
    return html`${i > 0 ? html`<br>or ` : ""}${names.map((n, j) => html`${j > 0 ? html`<br>` : ""}${n}`)}`;
  });
}

/** `{"user","next"}`: the top-level fields of a success answer (each alternative of a union). */
function shape(response: OperationObject["responses"][string]): string {
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) return "";
  const variants = (schema.anyOf as Schema[] | undefined) ?? [schema];
  return variants
    .map((v) =>
      v.properties
        ? `{${Object.keys(v.properties as Schema)
            .map((k) => `"${k}"`)
            .join(",")}}`
        : "",
    )
    .filter(Boolean)
    .join(" or ");
}

function describe(p: Schema): string {
  const type = (p.const !== undefined ? JSON.stringify(p.const) : p.type) ?? "object";
  const bounds = [
    p.minLength !== undefined || p.maxLength !== undefined ? `${p.minLength ?? 0}–${p.maxLength ?? "…"}` : "",
    p.enum ? (p.enum as string[]).join(" | ") : "",
  ].filter(Boolean);
  return bounds.length ? `${type}, ${bounds.join(", ")}` : String(type);
}

/** The API reference as one server-rendered page: no script, this origin's stylesheet only. */
export function referencePage(document: OpenApiDocument): string {
  const byTag = new Map<string, HtmlValue[]>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const operation = raw as OperationObject;
      const body = operation.requestBody?.content["application/json"]?.schema;
      const query = (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      const row = html`<tr>
<td><code>${method.toUpperCase()} ${path}</code></td>
<td>${operation.summary}<br><small>Who: ${who(operation.security)}${
        operation["x-token-scope"] ? `; a token needs ${operation["x-token-scope"]}` : ""
      }</small></td>
<td>${body ? fields(body) : query.length ? html`query: ${query.join(", ")}` : "none"}</td>
<td>${Object.entries(operation.responses).map(
        ([status, r]) =>
          html`<code>${status}</code> <small>${Number(status) < 300 && shape(r) ? shape(r) : r.description}</small><br>`,
      )}</td>
</tr>`;
      const tag = operation.tags[0] ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), row]);
    }
  }
  const sections = [...byTag].map(
    ([tag, rows]) => html`<section>
<h2>${tag}</h2>
<table>
<thead><tr><th>Route</th><th>What</th><th>Body</th><th>Answers</th></tr></thead>
<tbody>${rows}</tbody>
</table>
</section>`,
  );
  return layout(
    "HTTP API",
    html`<h1>HTTP API</h1>
<p>Every JSON route of this server. The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
Every error is <code>{"error":{"code","message"}}</code>; a code's status is the same on every route.</p>
${sections}`,
  );
}
