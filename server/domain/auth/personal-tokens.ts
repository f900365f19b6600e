import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { TokensConfig } from "../../config/tokens.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { Cache } from "../cache/cache.js";
import type { SecurityEvents } from "../security/events.js";
import type { PersonalTokenRecord, PersonalTokenRecords } from "./personal-token-records.js";

/**
 * The prefix of a personal access token: distinctive, so secret scanners (GitHub's, gitleaks) can be
 * taught to find a leaked one with `rss_pat_[A-Za-z0-9_-]{43}`.
 */
export const PERSONAL_TOKEN_PREFIX = "rss_pat_";
export const TOKENS_CATEGORY = "tokens";
/** A token's last use is written at most this often, seconds. */
export const LAST_USED_INTERVAL_SECONDS = 60;
/** Tokens one user may hold at once. */
export const TOKENS_PER_USER_MAX = 50;
const TOKEN_BYTES = 32; // 256 random bits
const USED_MAX = 10_000; // tokens whose last write this process remembers

/** A token as its owner sees it; times are ISO strings. */
export interface PersonalTokenView {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  /** True when a password change ends it. */
  endsWithPassword: boolean;
}

/** What a request with a token is allowed as: cached, so resolving it costs no database query. */
export interface ResolvedToken {
  id: string;
  userId: string;
  scopes: string[];
  /** ms since epoch */
  expiresAt: number;
  /** The user's credential epoch the token is bound to; null: a password change does not end it. */
  epoch: number | null;
}

export interface TokenRequest {
  name: string;
  scopes: string[];
  expiresInDays: number;
  endsWithPassword: boolean;
}

export interface PersonalTokens {
  /** Creates a token for `user`; the token is in the answer only, never stored. */
  create(user: Express.User, request: TokenRequest): Promise<{ token: string; view: PersonalTokenView }>;
  list(user: Express.User): Promise<PersonalTokenView[]>;
  /** The same list by user id (the account export). */
  listFor(userId: string): Promise<PersonalTokenView[]>;
  /** Deletes one of the user's tokens and drops it from every instance's cache; false: no such token. */
  revoke(user: Express.User, id: string): Promise<boolean>;
  /** The token's grant, or undefined when it is unknown, revoked or expired. */
  resolve(token: string): Promise<ResolvedToken | undefined>;
  /** Records a use (written at most once a minute per token, in the background). */
  used(id: string): void;
}

const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");

const view = (r: PersonalTokenRecord): PersonalTokenView => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes,
  createdAt: r.createdAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
  lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  endsWithPassword: r.epoch !== null,
});

/** Personal access tokens: created, listed and revoked by their owner, resolved from the cache. */
export function createPersonalTokens(deps: {
  config: TokensConfig;
  records: PersonalTokenRecords;
  cache: Cache;
  logger: Logger;
  events: Pick<SecurityEvents, "record">;
  now?: () => number;
}): PersonalTokens {
  const { config, records, cache, logger, events } = deps;
  const now = deps.now ?? Date.now;
  const lastWritten = new LRUCache<string, number>({ max: USED_MAX });

  const listFor = async (userId: string) => (await records.list(userId)).map(view);
  return {
    async create(user, request) {
      const unknown = request.scopes.filter((s) => !config.scopes.includes(s));
      if (unknown.length > 0) {
        throw new HttpError("invalid_request", {
          message: `Unknown scope: ${unknown.join(", ")}`,
          details: { field: "scopes" },
        });
      }
      if (request.expiresInDays > config.maxDays) {
        throw new HttpError("invalid_request", {
          message: `A token may live at most ${config.maxDays} days`,
          details: { field: "expiresInDays" },
        });
      }
      if ((await records.count(user.id)) >= TOKENS_PER_USER_MAX) throw new HttpError("too_many_tokens");
      const token = PERSONAL_TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString("base64url");
      const record = await records.insert(
        {
          userId: user.id,
          name: request.name,
          scopes: [...new Set(request.scopes)],
          epoch: request.endsWithPassword ? (user.credentialEpoch ?? 0) : null,
          expiresAt: new Date(now() + request.expiresInDays * 86_400_000),
        },
        hashOf(token),
      );
      logger.info({ userId: user.id, tokenId: record.id }, "personal access token created");
      events.record("personal_token_created", { userId: user.id, tokenId: record.id });
      return { token, view: view(record) };
    },

    list: (user) => listFor(user.id),
    listFor,

    async revoke(user, id) {
      const hash = await records.remove(user.id, id);
      if (!hash) return false;
      // Every instance drops its copy through the cache's invalidation bus.
      await cache.delete(TOKENS_CATEGORY, hash);
      logger.info({ userId: user.id, tokenId: id }, "personal access token revoked");
      events.record("personal_token_revoked", { userId: user.id, tokenId: id });
      return true;
    },

    async resolve(token) {
      const hash = hashOf(token);
      const grant = await cache.getOrSet<ResolvedToken | null>(TOKENS_CATEGORY, hash, async () => {
        const r = await records.findByHash(hash);
        // Unknown tokens are not cached (null): a guess must not fill the cache.
        return r
          ? { id: r.id, userId: r.userId, scopes: r.scopes, expiresAt: r.expiresAt.getTime(), epoch: r.epoch }
          : null;
      });
      return grant && grant.expiresAt > now() ? grant : undefined;
    },

    used(id) {
      const at = now();
      if (at - (lastWritten.get(id) ?? 0) < LAST_USED_INTERVAL_SECONDS * 1000) return;
      lastWritten.set(id, at);
      records.touch(id, LAST_USED_INTERVAL_SECONDS).catch((err: unknown) => {
        logger.warn(
          { component: "tokens", err: err instanceof Error ? { message: err.message } : undefined },
          "token last use not recorded",
        );
      });
    },
  };
}
