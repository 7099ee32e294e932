import { View, parse } from "vega";
import { type TopLevelSpec, compile } from "vega-lite";

/**
 * A Vega-Lite spec rendered to an SVG string in Node (no browser, no canvas: text is measured by Vega's
 * estimate). The SVG is static: no script, no external reference, readable with JavaScript off.
 */
export async function renderSvg(spec: TopLevelSpec, label: string): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    // An accessible name for the figure; Vega escapes every text it draws, and so does this.
    return svg.replace(/^<svg /, `<svg role="img" aria-label="${escapeAttribute(label)}" `);
  } finally {
    view.finalize();
  }
}

const escapeAttribute = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
