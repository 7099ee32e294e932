/**
 * Opens the report in headless Chromium (Debian's `chromium`, driven by playwright-core) with JavaScript off
 * and every network request recorded, checks the plots are drawn, and saves screenshots. CI installs
 * chromium (.ci/run); without it (local development) the test is skipped with a message.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputPathsFor } from "../../runner/output.js";
import { runToFiles } from "../../runner/run.js";
import { writeReport } from "../../report/index.js";
import { codecReply } from "../support/codec-responder.js";
import { skipUnless } from "../support/gate.js";
import { ScriptedChatModel, scriptedModels } from "../support/scripted-model.js";
import { SEEDS, makeEval, makeRun } from "./fixtures.js";

const CHROMIUM = process.env.CODECLM_CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** Screenshots land here (outside the repository): set CODECLM_SCREENSHOT_DIR to choose. */
const SHOTS = process.env.CODECLM_SCREENSHOT_DIR ?? join(tmpdir(), "codeclm-report-screenshots");
const skip = skipUnless(
  existsSync(CHROMIUM),
  `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CODECLM_CHROMIUM)`,
);

/** A seed id that closes a double- or single-quoted attribute and opens event handlers if not escaped. */
const ATTRIBUTE_BREAKER = `s-x" onmouseover="alert(1)" autofocus onfocus="alert(2)' onclick='alert(3)`;

describe.skipIf(skip)("the report in headless Chromium, JavaScript off, no network", () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    dir = await mkdtemp(join(tmpdir(), "codeclm-browser-"));
    await mkdir(SHOTS, { recursive: true });
  });
  afterAll(async () => browser?.close());

  async function open(path: string) {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    const url = pathToFileURL(path).href;
    await page.goto(url);
    return { page, context, external: () => requests.filter((request) => request !== url) };
  }

  it("draws every plot of a run, opens records without script, and loads nothing", async () => {
    const html = await writeReport(await makeRun(dir), {
      prices: { strong: { input: 2.5, output: 10 }, target: { input: 0.15, output: 0.6 } },
    });
    const { page, context, external } = await open(html);
    for (const id of [
      "plot-iterations",
      "plot-gaps",
      "plot-coverage-use-cases",
      "plot-coverage-skills",
      "plot-usage",
      "plot-cost",
    ]) {
      const svg = page.locator(`figure#${id} svg`);
      await expect(svg.count()).resolves.toBe(1);
      const box = await svg.boundingBox();
      expect(box!.width).toBeGreaterThan(200);
      expect(box!.height).toBeGreaterThan(100);
      // Drawn marks, not an empty frame: bars are paths in Vega's SVG.
      expect(await page.locator(`figure#${id} svg .mark-rect.role-mark path`).count()).toBeGreaterThan(0);
    }
    // The ±θ lines are there.
    expect(await page.locator("figure#plot-gaps svg .mark-rule.role-mark line").count()).toBe(2);
    // <details> open natively, with JavaScript off.
    const first = page.locator("details.record.kept").first();
    expect(await first.getAttribute("open")).toBeNull();
    await first.locator(":scope > summary").click();
    expect(await first.getAttribute("open")).toBe("");
    await expect(first.locator("text=basic instruction").first().isVisible()).resolves.toBe(true);
    expect(external()).toEqual([]);
    const shot = join(SHOTS, "run-report.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(20_000);
    console.info(`report screenshot: ${shot}`);
    await context.close();
  });

  it("an id that breaks out of an attribute stays inside it (the browser's own parse is the oracle)", async () => {
    // Encoding that seed fails, so a dropped record carries its id into the page's id attributes.
    const hostileSeed = { id: ATTRIBUTE_BREAKER, instruction: "A seed whose encoding fails, for the report's sake." };
    const strong = new ScriptedChatModel((prompt) =>
      prompt.includes("You analyse instructions") && prompt.includes(hostileSeed.instruction)
        ? new Error("refused")
        : codecReply("strong", prompt),
    );
    const paths = outputPathsFor(join(dir, "attr", "run.jsonl"));
    await mkdir(join(dir, "attr"), { recursive: true });
    await runToFiles({
      input: { seeds: [...SEEDS.slice(0, 4), hostileSeed] },
      config: {
        size: 8,
        poolSize: 6,
        seed: 5,
        concurrency: 4,
        strong: { model: "openai:strong" },
        target: { model: "openai:target" },
      },
      paths,
      graph: { models: { strong, target: scriptedModels().target } },
    });
    const html = await writeReport(paths.kept);
    const { page, context, external } = await open(html);
    const handlers = await page
      .locator("*")
      .evaluateAll((elements) =>
        elements.flatMap((element) =>
          [...element.attributes]
            .filter((attribute) => /^on/i.test(attribute.name) || attribute.name === "autofocus")
            .map((attribute) => attribute.name),
        ),
      );
    expect(handlers).toEqual([]);
    const ids = await page
      .locator("details.record.dropped")
      .evaluateAll((elements) => elements.map((element) => element.id));
    expect(ids).toContain(`dropped-seed-${ATTRIBUTE_BREAKER}`);
    expect(await page.getByText(ATTRIBUTE_BREAKER, { exact: true }).count()).toBeGreaterThan(0);
    expect(external()).toEqual([]);
    await context.close();
  });

  it("draws an evaluation's win/tie/loss split", async () => {
    const html = await writeReport(await makeEval(join(dir, "ev")));
    const { page, context, external } = await open(html);
    expect(await page.locator("figure#plot-outcomes svg .mark-rect.role-mark path").count()).toBeGreaterThan(0);
    await expect(page.locator("figure#plot-outcomes svg").getByText("all (n=7)").count()).resolves.toBe(1);
    expect(external()).toEqual([]);
    const shot = join(SHOTS, "eval-report.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.info(`report screenshot: ${shot}`);
    await context.close();
  });
});
