import type { Express, Request, RequestHandler } from "express";
import type { Metrics } from "../domain/metrics/metrics.js";

const ROUTE = Symbol("route");
const ROUTE_PATTERN = Symbol("routePattern");
/** Label for responses no route produced (404s, static files): raw URLs would make cardinality unbounded. */
export const NO_ROUTE = "none";

type Tracked = Request & { [ROUTE]?: { path: unknown }; [ROUTE_PATTERN]?: string };

/**
 * The router sets `req.route` when a route matches, while `req.baseUrl` still holds the mount path; it
 * restores `baseUrl` when an error leaves a sub-router, so by `finish` the pair may no longer agree
 * (a 401 from /auth/login would read "/login"). Intercepting the assignment on this app's request
 * prototype records the full pattern at the right moment, once per app rather than once per request.
 */
function captureRoutePatterns(app: Express): void {
  Object.defineProperty(app.request, "route", {
    configurable: true,
    get(this: Tracked) {
      return this[ROUTE];
    },
    set(this: Tracked, route: { path: unknown }) {
      this[ROUTE] = route;
      this[ROUTE_PATTERN] = `${this.baseUrl}${String(route?.path ?? "")}`;
    },
  });
}

/** Observes every response in `http_request_duration_seconds` by method, route pattern and status. */
export function createHttpMetrics(
  app: Express,
  metrics: Pick<Metrics, "httpRequestDuration">,
): RequestHandler {
  captureRoutePatterns(app);
  const histogram = metrics.httpRequestDuration;
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      histogram.observe(
        {
          method: req.method,
          route: (req as Tracked)[ROUTE_PATTERN] ?? NO_ROUTE,
          status: String(res.statusCode),
        },
        seconds,
      );
    });
    next();
  };
}
