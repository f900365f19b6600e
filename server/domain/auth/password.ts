import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { ServerBusyError } from "../../lib/errors.js";

/** Who asks for a hash: at most `perClientMax` of one client's hashes run or wait at once. */
export interface HashClient {
  client?: string;
}

export interface PasswordHasher {
  hash(password: string, from?: HashClient): Promise<string>;
  /** Constant-time check; a malformed stored hash verifies as false. */
  verify(password: string, stored: string, from?: HashClient): Promise<boolean>;
  /** Spends the same time as a real verification, for logins with unknown emails. */
  verifyDummy(password: string, from?: HashClient): Promise<false>;
  /** True when `stored` was made with other parameters than the configured ones (re-hash it at login). */
  needsRehash(stored: string): boolean;
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

/** Defaults of PASSWORD_HASH_QUEUE_MAX and PASSWORD_HASH_MAX_WAIT_MS. */
export const DEFAULT_HASH_QUEUE_MAX = 16;
export const DEFAULT_HASH_MAX_WAIT_MS = 2000;

interface Waiter {
  start(): void;
  refuse(): void;
  timer: NodeJS.Timeout;
}

/**
 * A counting semaphore: at most `limit` hashes in memory at once (each takes 128 * N * r bytes). At most
 * `queueMax` wait, each at most `maxWaitMs`, so a flood cannot make a real login wait for hundreds of
 * hashes. A free slot goes to the newest waiter and a full queue refuses its oldest: under overload the
 * oldest are the likeliest to time out anyway, and serving them first would make every request wait the
 * whole `maxWaitMs` (a login made during a burst is served next instead of after it).
 */
function limiter(limit: number, queueMax: number, maxWaitMs: number, perClientMax: number) {
  let active = 0;
  let peak = 0;
  const waiting: Waiter[] = [];

  const acquire = (): Promise<void> => {
    if (active < limit) {
      active++;
      peak = Math.max(peak, active);
      return Promise.resolve();
    }
    if (queueMax === 0) return Promise.reject(new ServerBusyError());
    if (waiting.length >= queueMax) {
      const oldest = waiting.shift() as Waiter;
      clearTimeout(oldest.timer);
      oldest.refuse();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: resolve,
        refuse: () => reject(new ServerBusyError()),
        timer: setTimeout(() => {
          const at = waiting.indexOf(waiter);
          if (at === -1) return;
          waiting.splice(at, 1);
          waiter.refuse();
        }, maxWaitMs),
      };
      waiter.timer.unref();
      waiting.push(waiter);
    });
  };

  /** Hands the slot straight to the newest waiter, so no newcomer can slip in between. */
  const release = () => {
    const next = waiting.pop();
    if (!next) {
      active--;
      return;
    }
    clearTimeout(next.timer);
    next.start();
  };

  // Hashes each client has running or waiting: one client flooding the queue is refused at its cap and so
  // cannot push everyone else's checks out of it.
  const perClient = new Map<string, number>();

  const run = async <T>(fn: () => Promise<T>, client?: string): Promise<T> => {
    if (client !== undefined) {
      const held = perClient.get(client) ?? 0;
      if (held >= perClientMax) throw new ServerBusyError();
      perClient.set(client, held + 1);
    }
    try {
      await acquire();
      try {
        return await fn();
      } finally {
        release();
      }
    } finally {
      if (client !== undefined) {
        const held = (perClient.get(client) ?? 1) - 1;
        if (held > 0) perClient.set(client, held);
        else perClient.delete(client);
      }
    }
  };
  return Object.assign(run, { load: () => ({ active, waiting: waiting.length, peak }) });
}

/**
 * scrypt hashes stored as `scrypt$<log2 N>$<r>$<p>$<salt>$<key>`; old costs still verify after a change.
 * `hash` and `verify` reject with {@link ServerBusyError} (503 busy) when the queue refuses them.
 */
export function createPasswordHasher(options: {
  logN: number;
  concurrency: number;
  /** Hashes allowed to wait for a slot. */
  queueMax?: number;
  /** How long one may wait for a slot (ms). */
  maxWaitMs?: number;
  /** Hashes one client may have running or waiting (default: no cap). */
  perClientMax?: number;
}): PasswordHasher {
  const run = limiter(
    options.concurrency,
    options.queueMax ?? DEFAULT_HASH_QUEUE_MAX,
    options.maxWaitMs ?? DEFAULT_HASH_MAX_WAIT_MS,
    options.perClientMax ?? Number.POSITIVE_INFINITY,
  );
  const n = 2 ** options.logN;
  let dummy: Promise<string> | undefined;

  const hash = (password: string, from?: HashClient) =>
    run(async () => {
      const salt = randomBytes(SALT_LENGTH);
      const key = await derive(password, salt, n, R, P);
      return `scrypt$${options.logN}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
    }, from?.client);

  const verify = async (password: string, stored: string, from?: HashClient) => {
    const parts = stored.split("$");
    if (parts.length !== 6 || parts[0] !== "scrypt") return false;
    const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    if (!(logN >= 10 && logN <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
    const salt = Buffer.from(parts[4] as string, "base64");
    const expected = Buffer.from(parts[5] as string, "base64");
    const actual = await run(() => derive(password, salt, 2 ** logN, r, p), from?.client);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };

  return {
    hash,
    verify,
    load: () => run.load(),
    needsRehash: (stored) => !stored.startsWith(`scrypt$${options.logN}$${R}$${P}$`),
    async verifyDummy(password: string, from?: HashClient) {
      // A refused (busy) dummy hash is made again next time, not kept as a rejection.
      dummy ??= hash(randomBytes(16).toString("hex")).catch((err: unknown) => {
        dummy = undefined;
        throw err;
      });
      await verify(password, await dummy, from);
      return false;
    },
  };
}
