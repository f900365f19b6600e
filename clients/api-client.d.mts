import type { Operations } from "./api-types.js";

export type { ApiError, ErrorCode, Operations } from "./api-types.js";

/** A route as the API reference names it: `"GET /auth/me"`. */
export type Route = keyof Operations;

type Responses<R extends Route> = Operations[R]["responses"];

/** An answer: `status` tells which body it carries (`if (res.status === 200) res.body.user.email`). */
export type Answer<R extends Route> = {
  [S in keyof Responses<R> & number]: { status: S; ok: boolean; body: Responses<R>[S]; headers: Headers };
}[keyof Responses<R> & number];

/** A key the call may leave out when its type allows `undefined` or has no fields. */
type Needs<K extends string, T> = undefined extends T
  ? { [P in K]?: T }
  : [T] extends [Record<string, never>]
    ? { [P in K]?: T }
    : { [P in K]: T };

export type RequestOptions<R extends Route> = Needs<"params", Operations[R]["params"]> &
  Needs<"body", Operations[R]["body"]> & {
    query?: Operations[R]["query"];
    headers?: Record<string, string>;
  };

type Optional<R extends Route> =
  Record<never, never> extends RequestOptions<R>
    ? [options?: RequestOptions<R>]
    : [options: RequestOptions<R>];

export interface ApiClient {
  request<R extends Route>(route: R, ...options: Optional<R>): Promise<Answer<R>>;
  /** The same client sending another bearer token. */
  withToken(token: string | undefined): ApiClient;
}

export function createClient(options: {
  baseUrl: string;
  /** A bearer session (`rss_sess_…`) or a personal access token (`rss_pat_…`). */
  token?: string;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}): ApiClient;
