// Drives VS Code (code-server) in headless Chromium like a user: select lines, open the
// lightbulb, pick the Codestral refactoring, see the new code, save. Waits on UI state only.
// Usage: PLAYWRIGHT_DIR=<folder with node_modules/playwright-core> node ui.mjs <url> <file> <expected> <png>
import { createRequire } from "node:module";

const require = createRequire(`${process.env.PLAYWRIGHT_DIR || process.cwd()}/`);
const { chromium } = require("playwright-core");

const [url, fileName, expected, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const step = async (what, action) => {
  try {
    return await action();
  } catch (error) {
    await page.screenshot({ path: screenshot }).catch(() => {});
    console.error(`step failed: ${what}: ${error.message}`);
    await browser.close();
    process.exit(1);
  }
};

await step("open the workbench", async () => {
  await page.goto(url);
  await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
});
await step("open the file", async () => {
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type(fileName, { delay: 30 });
  await page.waitForSelector(`.quick-input-list .monaco-list-row >> text=${fileName}`);
  await page.keyboard.press("Enter");
  await page.waitForSelector(".monaco-editor .view-lines >> text=def area", { timeout: 30000 });
});
// The status bar shows where the cursor is; waiting for it after each key keeps Monaco from
// dropping keys, without fixed pauses.
const cursorAt = (line, column) =>
  page.waitForSelector(`.statusbar >> text=/Ln ${line}, Col ${column}\\b/`, { timeout: 10000 });

async function selectLines5To8() {
  await page.click(".monaco-editor .view-lines");
  await page.keyboard.press("Control+G");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type("5");
  await page.keyboard.press("Enter");
  await cursorAt(5, 1);
  for (let line = 6; line <= 9; line++) {
    await page.keyboard.press("Shift+ArrowDown");
    await cursorAt(line, 1);
  }
}

await step("select lines 5-8, open the code actions and pick the refactoring", async () => {
  // Until the language server has started, the menu has no Codestral entries: select and ask again.
  for (let attempt = 0; attempt < 20; attempt++) {
    await selectLines5To8();
    await page.keyboard.press("Control+.");
    const item = page.getByRole("option", { name: "Codestral: Refactor" });
    try {
      await item.first().waitFor({ state: "visible", timeout: 3000 });
      await item.first().click();
      return;
    } catch {
      await page.keyboard.press("Escape");
    }
  }
  const shown = await page.getByRole("option").allInnerTexts().catch(() => []);
  throw new Error(`no Codestral: Refactor code action appeared; the menu showed: ${JSON.stringify(shown)}`);
});
await step("see the new code", async () => {
  await page.waitForSelector(`.monaco-editor .view-lines >> text=${expected}`, { timeout: 30000 });
});
await step("save", async () => {
  await page.keyboard.press("Control+S");
  await page.waitForFunction(() => !document.querySelector(".tab.dirty"), null, { timeout: 10000 });
});
await page.screenshot({ path: screenshot });
await browser.close();
console.log("ok");
