import type { SessionData } from "express-session";
import { describe, expect, it } from "vitest";
import { SessionExtension } from "../../../server/domain/session/session-extension.js";

const sess = () => ({ cookie: {} }) as unknown as SessionData;

describe("the rolling idle timeout both stores apply", () => {
  it("extends once the remaining lifetime is below ttl * (1 - touchFraction), never a key without expiry", () => {
    const extension = new SessionExtension(100, 0.25); // 100 s, extended after 25 s of use
    expect(extension.ttlMs).toBe(100_000);
    expect(extension.isDue(75_001)).toBe(false);
    expect(extension.isDue(75_000)).toBe(false);
    expect(extension.isDue(74_999)).toBe(true);
    expect(extension.isDue(0)).toBe(true);
    expect(extension.isDue(-1)).toBe(false); // Redis PTTL for a key without expiry
  });

  it("with fraction 0 extends on every read", () => {
    const extension = new SessionExtension(100);
    expect(extension.isDue(99_999)).toBe(true);
  });

  it("remembers the read that extended, on the session express-session builds from it", () => {
    const extension = new SessionExtension(100, 0.25);
    const read = sess();
    const other = sess();
    extension.markExtended(read);
    const built = {};
    extension.carry(read, built);
    const builtFromOther = {};
    extension.carry(other, builtFromOther);
    expect(extension.wasExtended(built)).toBe(true);
    expect(extension.wasExtended(builtFromOther)).toBe(false);
  });
});
