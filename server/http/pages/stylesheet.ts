import { createHash } from "node:crypto";

/**
 * The pages' only stylesheet. Kept in a module rather than a .css file so the TypeScript build ships it
 * without a copy step; served from a URL carrying its hash, so it can be cached for a year.
 */
export const STYLESHEET = `
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; color: #1b1b1b; background: #f6f7f9; }
body { margin: 0; }
a { color: #0b57d0; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 1; }
header { background: #1f2937; color: #fff; padding: .75rem 1rem; }
header p { margin: 0; font-weight: 600; }
main { max-width: 44rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; }
section > h2:first-child { margin-top: 0; }
section, form.card { background: #fff; border: 1px solid #d9dde3; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
.field { margin-bottom: 1rem; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input { width: 100%; font: inherit; padding: .5rem; border: 1px solid #8a94a3; border-radius: 4px; }
input[aria-invalid="true"] { border-color: #b3261e; }
input:focus, button:focus, a:focus { outline: 3px solid #f2b705; outline-offset: 1px; }
.error { color: #b3261e; margin: .25rem 0 0; font-size: .95rem; }
.alert { border-left: 4px solid #b3261e; background: #fdecea; padding: .5rem .75rem; margin: 0 0 1rem; }
.notice { border-left: 4px solid #1e7b34; background: #e8f5ec; padding: .5rem .75rem; margin: 0 0 1rem; }
button { font: inherit; padding: .5rem 1rem; border-radius: 4px; border: 1px solid #0b57d0; background: #0b57d0; color: #fff; cursor: pointer; }
button:disabled { opacity: .55; cursor: not-allowed; }
button.secondary { background: #fff; color: #0b57d0; }
button.danger { background: #fff; color: #b3261e; border-color: #b3261e; }
form.inline { display: inline; margin: 0; }
table { width: 100%; border-collapse: collapse; }
caption { text-align: left; font-weight: 600; padding-bottom: .5rem; }
th, td { text-align: left; padding: .5rem .25rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: .8rem; background: #e8f0fe; color: #0b57d0; border-radius: 999px; padding: 0 .5rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: 1rem; }
.muted { color: #5f6670; }
.chart svg { width: 100%; height: auto; background: #fafbfc; border: 1px solid #e3e6ea; }
.chart .ok { fill: #1e7b34; }
.qr svg { display: block; width: 12rem; height: 12rem; }
.codes { columns: 2; padding-left: 1.25rem; font-size: 1.1rem; }
.chart .bad { fill: #b3261e; }
.stats { display: flex; flex-wrap: wrap; gap: 1rem; padding: 0; list-style: none; }
.stats li { background: #fff; border: 1px solid #d9dde3; border-radius: 8px; padding: .5rem 1rem; }
nav.admin a { margin-right: 1rem; }
@media (max-width: 36rem) {
  thead { position: absolute; left: -999px; }
  tr { display: block; border-bottom: 1px solid #e3e6ea; padding: .5rem 0; }
  td { display: block; border: 0; padding: .15rem 0; }
  td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
}
`.trim();

export const STYLESHEET_HASH = createHash("sha256").update(STYLESHEET).digest("hex").slice(0, 12);
export const STYLESHEET_PATH = `/assets/style.${STYLESHEET_HASH}.css`;
