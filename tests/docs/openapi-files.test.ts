import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generatedFiles, typeOf } from "../../scripts/openapi-files.js";

describe("the committed OpenAPI document and client types", () => {
  it("are what `npm run openapi` writes now (run it after changing a route's schema)", () => {
    for (const [path, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(path, "utf8") === text, `${path} is stale: run npm run openapi`).toBe(true);
    }
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
