import type { RequestHandler } from "express";
import type { Logger } from "../infra/logging/logger.js";

/**
 * With no trusted proxy, a request carrying `X-Forwarded-For` means a proxy is probably in front of us:
 * every client then shares the proxy's address (one rate-limit bucket for the whole site). Said once.
 */
export function warnOnUntrustedForwarding(deps: {
  trustProxy: number | string[];
  logger: Logger;
}): RequestHandler {
  let warned = deps.trustProxy !== 0;
  return (req, _res, next) => {
    if (!warned && req.headers["x-forwarded-for"] !== undefined) {
      warned = true;
      deps.logger.warn(
        { remoteAddress: req.socket.remoteAddress },
        "X-Forwarded-For received but forwarded headers are not trusted (TRUST_PROXY=false or 0): every client is seen as the proxy's address and shares its rate limits; set TRUST_PROXY to the proxy hop count (1 on Railway)",
      );
    }
    next();
  };
}
