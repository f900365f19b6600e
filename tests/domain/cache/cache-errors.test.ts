import { expect, it } from "vitest";
import * as errors from "../../../server/domain/cache/errors.js";
import { CACHE_ERROR_CODES } from "../../../server/lib/error-catalog.js";

it("gives every cache error a distinct, catalog-ready code, readable on the instance", () => {
  const classes = Object.values(errors).filter(
    (v): v is typeof errors.CacheError => typeof v === "function" && v.prototype instanceof Error,
  );
  const codes = classes.map((c) => c.code);
  expect(codes.length).toBeGreaterThanOrEqual(6);
  expect(new Set(codes).size).toBe(codes.length);
  for (const code of codes) expect(code).toMatch(/^cache_[a-z0-9_]+$/);
  // The catalog lists exactly the codes the classes carry.
  expect([...codes].sort()).toEqual(Object.keys(CACHE_ERROR_CODES).sort());
  const timeout = new errors.CacheLoaderTimeoutError(100);
  expect(timeout).toBeInstanceOf(errors.CacheError);
  expect(timeout.code).toBe("cache_loader_timeout");
  expect(new errors.UnknownCategoryError("x", ["a"])).toBeInstanceOf(errors.CacheKeyError);
  expect(new errors.UnknownCategoryError("x", ["a"]).code).toBe("cache_unknown_category");
});
