import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-time check; a malformed stored hash verifies as false. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Spends the same time as a real verification, for logins with unknown emails. */
  verifyDummy(password: string): Promise<false>;
  /** Hashes running now, waiting now, and the most ever run at once. */
  load(): { active: number; waiting: number; peak: number };
}

const KEY_LENGTH = 64; // bytes
const SALT_LENGTH = 16; // bytes
const R = 8;
const P = 1;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below OWASP's N=2^17.
  const maxmem = 128 * n * r * 2;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, { N: n, r, p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A counting semaphore: at most `limit` hashes in memory at once (each takes 128 * N * r bytes). */
function limiter(limit: number) {
  let active = 0;
  let peak = 0;
  const waiting: Array<() => void> = [];
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    peak = Math.max(peak, active);
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  return Object.assign(run, { load: () => ({ active, waiting: waiting.length, peak }) });
}

/** scrypt hashes stored as `scrypt$<log2 N>$<r>$<p>$<salt>$<key>`; old costs still verify after a change. */
export function createPasswordHasher(options: { logN: number; concurrency: number }): PasswordHasher {
  const run = limiter(options.concurrency);
  const n = 2 ** options.logN;
  let dummy: Promise<string> | undefined;

  const hash = (password: string) =>
    run(async () => {
      const salt = randomBytes(SALT_LENGTH);
      const key = await derive(password, salt, n, R, P);
      return `scrypt$${options.logN}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
    });

  const verify = async (password: string, stored: string) => {
    const parts = stored.split("$");
    if (parts.length !== 6 || parts[0] !== "scrypt") return false;
    const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    if (!(logN >= 10 && logN <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
    const salt = Buffer.from(parts[4] as string, "base64");
    const expected = Buffer.from(parts[5] as string, "base64");
    const actual = await run(() => derive(password, salt, 2 ** logN, r, p));
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };

  return {
    hash,
    verify,
    load: () => run.load(),
    async verifyDummy(password: string) {
      dummy ??= hash(randomBytes(16).toString("hex"));
      await verify(password, await dummy);
      return false;
    },
  };
}
