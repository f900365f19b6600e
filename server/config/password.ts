import { int, type Values } from "./variables.js";

export const PASSWORD_VARIABLES = {
  PASSWORD_SCRYPT_LOG_N: int(10, 20).default(17), // scrypt cost as log2(N); OWASP recommends 17
  PASSWORD_HASH_CONCURRENCY: int(1, 64).default(2), // hashes at once (128 MiB each at cost 17)
  PASSWORD_HASH_QUEUE_MAX: int(0, 10_000).default(16), // hashes waiting for a slot; past it the oldest waiter gets 503 busy
  PASSWORD_HASH_MAX_WAIT_MS: int(1, 60_000).default(2000), // longest wait for a slot before 503
  PASSWORD_HASH_PER_CLIENT_MAX: int(1, 10_000).default(2), // hashes one client address may have running or waiting; past it 503 busy
};

/** Password hashing cost and how many hashes may run or wait. */
export function passwordConfig(v: Values<typeof PASSWORD_VARIABLES>) {
  return {
    password: {
      scryptLogN: v.PASSWORD_SCRYPT_LOG_N,
      concurrency: v.PASSWORD_HASH_CONCURRENCY,
      queueMax: v.PASSWORD_HASH_QUEUE_MAX,
      maxWaitMs: v.PASSWORD_HASH_MAX_WAIT_MS,
      perClientMax: v.PASSWORD_HASH_PER_CLIENT_MAX,
    },
  };
}

export type PasswordConfig = ReturnType<typeof passwordConfig>;
