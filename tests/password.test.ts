import { describe, expect, it } from "vitest";
import { createPasswordHasher } from "../server/auth/password.js";
import { loadConfig } from "../server/config/config.js";

describe("password hashing", () => {
  it("uses OWASP scrypt parameters by default (N=2^17, r=8, p=1) and verifies", async () => {
    const config = loadConfig({});
    expect(config.password.scryptLogN).toBe(17);
    const hasher = createPasswordHasher({
      logN: config.password.scryptLogN,
      concurrency: config.password.concurrency,
    });
    const hash = await hasher.hash("correct horse battery");
    expect(hash).toMatch(/^scrypt\$17\$8\$1\$/);
    expect(await hasher.verify("correct horse battery", hash)).toBe(true);
    expect(await hasher.verify("correct horse batterx", hash)).toBe(false);
  });

  it("salts every hash, verifies old costs after a change, rejects malformed hashes", async () => {
    const fast = createPasswordHasher({ logN: 10, concurrency: 2 });
    const a = await fast.hash("password-123");
    const b = await fast.hash("password-123");
    expect(a).not.toBe(b);
    const other = createPasswordHasher({ logN: 11, concurrency: 2 });
    expect(await other.verify("password-123", a)).toBe(true);
    expect(await fast.verify("password-123", "plain")).toBe(false);
    expect(await fast.verify("password-123", "scrypt$40$8$1$AAAA$BBBB")).toBe(false);
    expect(await fast.verifyDummy("anything")).toBe(false);
  });

  it("never runs more hashes at once than the concurrency limit", async () => {
    const hasher = createPasswordHasher({ logN: 12, concurrency: 2 });
    const pending = [1, 2, 3, 4, 5, 6].map((i) => hasher.hash(`password-${i}`));
    expect(hasher.load()).toMatchObject({ active: 2, waiting: 4 });
    await Promise.all(pending);
    expect(hasher.load()).toEqual({ active: 0, waiting: 0, peak: 2 });
  });
});
