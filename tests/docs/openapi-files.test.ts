import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { committedDocument, generatedFiles, typeOf } from "../../scripts/openapi-files.js";
import { ERROR_CATALOG } from "../../server/lib/error-catalog.js";

describe("the committed OpenAPI document and client types", () => {
  it("are what `npm run openapi` writes now (run it after changing a route's schema)", () => {
    for (const [path, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(path, "utf8") === text, `${path} is stale: run npm run openapi`).toBe(true);
    }
  });

  it("name every error code of the catalog on some route (the device flow's four in RFC 8628's shape)", () => {
    const document = committedDocument();
    const named = new Set<string>();
    const walk = (value: unknown): void => {
      if (!value || typeof value !== "object") return;
      const code = (value as { code?: { enum?: string[] } }).code;
      if (code?.enum) for (const c of code.enum) named.add(c);
      for (const inner of Object.values(value)) walk(inner);
    };
    walk(document.paths);
    const device = document.components.schemas.DeviceTokenError as {
      properties: { error: { enum: string[] } };
    };
    for (const c of device.properties.error.enum) named.add(c);
    expect(Object.keys(ERROR_CATALOG).filter((c) => !named.has(c))).toEqual([]);
  });

  it("turn JSON Schema into the TypeScript a client compiles against", () => {
    const schema = {
      type: "object",
      properties: {
        id: { type: "string" },
        email: { type: ["string", "null"] },
        tags: { type: "array", items: { type: "string", enum: ["a", "b"] } },
        user: { $ref: "#/components/schemas/PublicUser" },
      },
      required: ["id"],
      additionalProperties: {},
    };
    expect(typeOf(schema)).toBe(
      '{\n  id: string;\n  email?: string | null;\n  tags?: Array<"a" | "b">;\n  user?: PublicUser;\n  [key: string]: unknown;\n}',
    );
    const error = {
      allOf: [
        { $ref: "#/components/schemas/Error" },
        { properties: { error: { properties: { code: { enum: ["not_found"] } } } } },
      ],
    };
    expect(typeOf(error)).toBe('ApiError<"not_found">');
    expect(typeOf({ $ref: "#/components/schemas/Error" })).toBe("ErrorBody");
  });
});
