import { z } from "zod";
import { ERROR_CATALOG, type ErrorCode } from "../../lib/error-catalog.js";
import { errorBody } from "./answers.js";
import { type Answer, type Auth, OPERATIONS, type Operation } from "./operations.js";

type JsonSchema = Record<string, unknown>;

/** What every route of a kind may answer, besides its own codes. */
const EVERY_ROUTE: ErrorCode[] = ["invalid_path", "internal_error"];
const BEHIND_SESSION_STACK: ErrorCode[] = [
  "rate_limited",
  "service_unavailable",
  "invalid_authorization",
  "token_in_query",
  "credentials_conflict",
  "mfa_setup_required",
];
const UNSAFE_METHOD: ErrorCode[] = ["csrf_rejected"];
const JSON_BODY: ErrorCode[] = [
  "invalid_json",
  "invalid_encoding",
  "invalid_body",
  "request_aborted",
  "payload_too_large",
  "unsupported_media_type",
];
const BY_AUTH: Record<Auth, ErrorCode[]> = {
  none: ["token_not_allowed"],
  optional: ["token_not_allowed"],
  "optional-key": ["rate_limited"],
  session: ["unauthenticated", "token_not_allowed"],
  "session-or-token": ["unauthenticated"],
  admin: [
    "unauthenticated",
    "unauthorized",
    "forbidden",
    "second_factor_required",
    "reauthentication_required",
    "insufficient_scope",
    "token_not_allowed",
  ],
  // 404 where no ADMIN_API_KEY is configured: nothing is exposed by default.
  "admin-key": ["unauthorized", "not_found", "rate_limited"],
};

/** Every error code an operation may answer: its own and those of its kind. */
export function errorCodesOf(operation: Operation): ErrorCode[] {
  const codes = [...EVERY_ROUTE, ...BY_AUTH[operation.auth], ...operation.errors];
  if (!operation.probe) codes.push(...BEHIND_SESSION_STACK);
  if (!operation.probe && operation.method !== "get") codes.push(...UNSAFE_METHOD);
  if (operation.body || operation.emptyBody) codes.push(...JSON_BODY);
  if (operation.scope) codes.push("insufficient_scope");
  // Probes answer before the bearer checks: a token is never refused there.
  return [...new Set(codes)].filter((code) => !operation.probe || code !== "token_not_allowed");
}

/** `/auth/sessions/:id` → `/auth/sessions/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}");
}

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  none: [],
  optional: [{}, { sessionCookie: [] }, { bearerSession: [] }],
  "optional-key": [{}, { adminKey: [] }],
  session: [{ sessionCookie: [] }, { bearerSession: [] }],
  "session-or-token": [{ sessionCookie: [] }, { bearerSession: [] }, { personalToken: [] }],
  admin: [{ sessionCookie: [] }, { bearerSession: [] }, { personalToken: ["admin"] }, { adminKey: [] }],
  "admin-key": [{ adminKey: [] }],
};

/**
 * Turns zod schemas into JSON Schema 2020-12; schemas with a `meta({ id })` become shared components
 * (`#/components/schemas/<id>`), the rest stay inline.
 */
function schemaConverter() {
  const components: Record<string, JsonSchema> = {};
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!value || typeof value !== "object") return value;
    const out: JsonSchema = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$schema" || key === "$defs") continue;
      out[key] =
        key === "$ref" && typeof inner === "string"
          ? inner.replace("#/$defs/", "#/components/schemas/")
          : rewrite(inner);
    }
    return out;
  };
  const convert = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
    const json = z.toJSONSchema(schema, {
      io,
      target: "draft-2020-12",
      unrepresentable: "any",
    }) as JsonSchema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    for (const [id, def] of Object.entries(defs)) components[id] ??= rewrite(def) as JsonSchema;
    const id = (json.id as string | undefined) ?? (z.globalRegistry.get(schema)?.id as string | undefined);
    const body = rewrite(json) as JsonSchema;
    if (!id) return body;
    delete body.id;
    components[id] ??= body;
    return { $ref: `#/components/schemas/${id}` };
  };
  return { convert, components };
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No content",
  302: "Redirect",
  303: "Redirect (see other)",
  503: "Unavailable",
};

function parametersOf(operation: Operation, convert: (s: z.ZodType, io: "input") => JsonSchema) {
  const path = [...operation.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  const fromSchema = Object.entries(operation.query?.shape ?? {}).map(([name, field]) => ({
    name,
    in: "query",
    required: false,
    schema: convert(field as z.ZodType, "input"),
  }));
  const plain = Object.entries(operation.queryParams ?? {}).map(([name, description]) => ({
    name,
    in: "query",
    required: false,
    description,
    schema: { type: "string" },
  }));
  return [...path, ...fromSchema, ...plain];
}

function successContent(answer: Answer, convert: (s: z.ZodType, io: "output") => JsonSchema) {
  if (answer === null) return undefined;
  if ("type" in answer && "schema" in answer && typeof answer.type === "string") {
    return { type: answer.type, schema: convert(answer.schema as z.ZodType, "output") };
  }
  return { type: "application/json", schema: convert(answer as z.ZodType, "output") };
}

/** The OpenAPI 3.1 document of every JSON route; `serverUrl` is PUBLIC_URL when set. */
export function buildOpenApiDocument(options: {
  serverUrl?: string;
  version: string;
  sessionCookie: string;
}) {
  const { convert, components } = schemaConverter();
  const errorRef = convert(errorBody, "output");
  const paths: Record<string, Record<string, unknown>> = {};

  for (const operation of OPERATIONS) {
    const responses: Record<string, unknown> = {};
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of errorCodesOf(operation)) {
      const status = ERROR_CATALOG[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    const statuses = new Set([...Object.keys(operation.responses).map(Number), ...byStatus.keys()]);
    for (const status of [...statuses].sort((a, b) => a - b)) {
      const alternatives: JsonSchema[] = [];
      let type = "application/json";
      const answer = operation.responses[status];
      if (answer !== undefined) {
        const content = successContent(answer, convert);
        if (content) {
          alternatives.push(content.schema);
          type = content.type;
        }
      }
      const codes = byStatus.get(status);
      if (codes) {
        alternatives.push({
          allOf: [errorRef, { properties: { error: { properties: { code: { enum: codes } } } } }],
        });
      }
      const other = operation.otherErrors?.[status];
      if (other) alternatives.push(convert(other, "output"));
      const description = codes
        ? `${STATUS_TEXT[status] ?? "Error"}: ${codes.join(", ")}`
        : (STATUS_TEXT[status] ?? "");
      const schema = alternatives.length === 1 ? alternatives[0] : { anyOf: alternatives };
      responses[String(status)] =
        alternatives.length === 0 ? { description } : { description, content: { [type]: { schema } } };
    }
    const body = operation.body
      ? {
          required: !operation.bodyOptional,
          content: { "application/json": { schema: convert(operation.body, "input") } },
        }
      : undefined;
    const parameters = parametersOf(operation, convert);
    const security = SECURITY[operation.auth];
    const path = openApiPath(operation.path);
    paths[path] ??= {};
    paths[path][operation.method] = {
      operationId: operationId(operation),
      tags: [operation.tag],
      summary: operation.summary,
      ...(security.length > 0 ? { security } : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
      ...(operation.scope ? { "x-token-scope": operation.scope } : {}),
    };
  }

  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "Session and auth server",
      version: options.version,
      description:
        'Every JSON route of the server. Errors are `{"error":{"code","message"}}` (`Error`); the codes and what they mean are in docs/reference/errors.md. Every POST, PATCH and DELETE passes the CSRF check.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [...new Set(OPERATIONS.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        sessionCookie: { type: "apiKey", in: "cookie", name: options.sessionCookie },
        bearerSession: {
          type: "http",
          scheme: "bearer",
          description: "A session token (`rss_sess_…`) from POST /auth/token or POST /auth/device/token",
        },
        personalToken: {
          type: "http",
          scheme: "bearer",
          description:
            "A personal access token (`rss_pat_…`); the scope a route needs is its `x-token-scope`",
        },
        adminKey: { type: "http", scheme: "bearer", description: "ADMIN_API_KEY" },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

/** `POST /auth/sessions/revoke-others` → `postAuthSessionsRevokeOthers`. */
export function operationId(operation: Pick<Operation, "method" | "path">): string {
  const words = operation.path
    .split(/[/\-.]+/)
    .filter(Boolean)
    .map((part) => (part.startsWith(":") ? `by ${part.slice(1)}` : part))
    .flatMap((part) => part.split(" "));
  return operation.method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

/**
 * Which mounted routes the document must describe: the JSON API under `/auth/`, `/api/`, `/admin/api/`,
 * `/health`, `/metrics` and `/openapi.json`. Everything else is an HTML page or an asset (the forms, the
 * admin console, `/device`, `/docs/api`, `/assets/…`) and is not in it.
 */
export function isJsonRoute(path: string): boolean {
  return /^\/(auth|api|admin\/api)\/|^\/(health|metrics)(\/|$)|^\/openapi\.json$/.test(path);
}
