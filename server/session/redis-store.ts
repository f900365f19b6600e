import { RedisStore } from "connect-redis";
import type { SessionData } from "express-session";
import { DependencyUnavailableError } from "../http/errors.js";
import type { Redis } from "../redis/redis-client.js";

type Callback<T = unknown> = (err?: unknown, value?: T | null) => void;

function failFast<T>(cb: Callback<T> | undefined): Callback<T> {
  return (err, value) => cb?.(err ? new DependencyUnavailableError("redis", err) : null, value);
}

/** connect-redis on ioredis, turning every Redis failure into a 503 instead of a 500. */
export class SessionRedisStore extends RedisStore {
  constructor(options: { client: Redis; prefix: string; ttlSeconds: number }) {
    super({ client: options.client, prefix: options.prefix, ttl: options.ttlSeconds });
  }

  override get(sid: string, cb: Callback<SessionData>) {
    return super.get(sid, failFast(cb));
  }

  override set(sid: string, sess: SessionData, cb?: Callback) {
    return super.set(sid, sess, failFast(cb));
  }

  override touch(sid: string, sess: SessionData, cb?: Callback) {
    return super.touch(sid, sess, failFast(cb));
  }

  override destroy(sid: string, cb?: Callback) {
    return super.destroy(sid, failFast(cb));
  }
}
