import { createHash } from "node:crypto";

/**
 * The pages' icon, served by the app itself: the strict CSP (`img-src 'self'`) refuses a `data:` icon, and
 * without any icon browsers ask for /favicon.ico on every visit.
 */
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f2937"/></svg>`;

export const ICON_PATH = `/assets/icon.${createHash("sha256").update(ICON).digest("hex").slice(0, 12)}.svg`;
