import type { HourCounts } from "../../domain/security/sign-in-stats.js";
import { html, type SafeHtml } from "../../lib/html.js";

const WIDTH = 480; // px, the viewBox; the stylesheet scales it
const HEIGHT = 120;
const BAR = WIDTH / 24;

/**
 * Sign-ins and failures per hour over the last day as bars drawn on the server: an SVG with a title and
 * a text summary, so it needs no script and says the same thing to a screen reader.
 */
export function signInChart(hours: HourCounts[]): SafeHtml {
  const peak = Math.max(1, ...hours.map((h) => h.succeeded + h.failed + h.locked));
  const scale = (n: number) => Math.round((n / peak) * (HEIGHT - 20));
  const total = (key: "succeeded" | "failed" | "locked") => hours.reduce((sum, h) => sum + h[key], 0);
  const bars = hours.map((h, i) => {
    const ok = scale(h.succeeded);
    const bad = scale(h.failed + h.locked);
    const x = Math.round(i * BAR) + 1;
    const w = Math.floor(BAR) - 2;
    return html`<g><title>${h.hour.slice(11, 16)} UTC: ${h.succeeded} sign-ins, ${h.failed} failures, ${h.locked} refused while locked</title>
<rect class="ok" x="${x}" y="${HEIGHT - ok}" width="${w}" height="${ok}"></rect>
<rect class="bad" x="${x}" y="${HEIGHT - ok - bad}" width="${w}" height="${bad}"></rect></g>`;
  });
  return html`<figure class="chart">
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="signin-chart-title">
<title id="signin-chart-title">Sign-ins and failures per hour, last 24 hours</title>
${bars}
</svg>
<figcaption>Last 24 hours: <strong>${total("succeeded")}</strong> sign-ins, <strong>${total("failed")}</strong> failures, <strong>${total("locked")}</strong> refused while locked (the tallest bar is ${peak}).</figcaption>
</figure>`;
}
