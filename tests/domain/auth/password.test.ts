import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { createPasswordHasher } from "../../../server/domain/auth/password.js";
import { ServerBusyError } from "../../../server/lib/errors.js";

describe("password hashing", () => {
  it("uses OWASP scrypt parameters by default (N=2^17, r=8, p=1) and verifies", async () => {
    const config = loadConfig({});
    expect(config.password).toEqual({
      scryptLogN: 17,
      concurrency: 2,
      queueMax: 16,
      maxWaitMs: 2000,
      perClientMax: 2,
    });
    const hasher = createPasswordHasher({
      logN: config.password.scryptLogN,
      concurrency: config.password.concurrency,
      queueMax: config.password.queueMax,
      maxWaitMs: config.password.maxWaitMs,
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

  it("refuses the oldest waiter with 503 busy when the queue is full, and serves the newest first", async () => {
    const hasher = createPasswordHasher({ logN: 14, concurrency: 1, queueMax: 2, maxWaitMs: 30_000 });
    const order: string[] = [];
    const track = (name: string, p: Promise<string>) =>
      p.then(
        () => order.push(name),
        (err: unknown) => {
          order.push(`${name}:${err instanceof ServerBusyError ? "busy" : String(err)}`);
        },
      );
    const all = [
      track("a", hasher.hash("password-a")), // runs
      track("b", hasher.hash("password-b")), // waits, then is pushed out by d
      track("c", hasher.hash("password-c")), // waits
    ];
    expect(hasher.load()).toMatchObject({ active: 1, waiting: 2 });
    all.push(track("d", hasher.hash("password-d")));
    expect(hasher.load()).toMatchObject({ active: 1, waiting: 2 });
    await Promise.all(all);
    expect(order).toEqual(["b:busy", "a", "d", "c"]);
    expect(hasher.load()).toEqual({ active: 0, waiting: 0, peak: 1 });
  });

  it("refuses a check that waited longer than the wait limit, long before the slot frees", async () => {
    const hasher = createPasswordHasher({ logN: 16, concurrency: 1, queueMax: 10, maxWaitMs: 20 });
    let firstDoneAt = 0;
    const first = hasher.hash("password-1").then(() => {
      firstDoneAt = Date.now();
    });
    const waited = hasher.verify(
      "password-2",
      await createPasswordHasher({ logN: 10, concurrency: 1 }).hash("x"),
    );
    await expect(waited).rejects.toBeInstanceOf(ServerBusyError);
    const refusedAt = Date.now();
    await first;
    expect(refusedAt).toBeLessThan(firstDoneAt);
    expect(hasher.load()).toMatchObject({ active: 0, waiting: 0 });
  });

  it("with no queue refuses at once while every slot is taken, and works again afterwards", async () => {
    const hasher = createPasswordHasher({ logN: 12, concurrency: 1, queueMax: 0 });
    const first = hasher.hash("password-1");
    await expect(hasher.verifyDummy("anything")).rejects.toMatchObject({ status: 503, code: "busy" });
    await first;
    // The refused dummy hash is not remembered as a failure.
    expect(await hasher.verifyDummy("anything")).toBe(false);
  });
});
