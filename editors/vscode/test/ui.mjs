// Drives VS Code (code-server) in headless Chromium like a user, through one session:
//  1. select lines, open the lightbulb, pick "Codestral: Refactor", see the proposal (a diff),
//     accept it with Ctrl+Enter, see the new code, save;
//  2. run "Codestral: Explain Selection" from the command palette: a Markdown preview opens and
//     no unsaved "Untitled" editor is left behind;
//  3. run "Codestral: Refactor Selection" on a slow answer: a notification shows the progress
//     with a Cancel button; click it: the notification goes away and nothing changes;
//  4. open a TypeScript file with a type error reported by VS Code's own TypeScript server, put
//     the cursor on it, open the lightbulb: "Codestral: Fix" is offered for that foreign
//     diagnostic; pick it, see the fix, save;
//  5. "Codestral: Edit Selection…" from the palette asks for the instruction once, then proposes
//     its edit; "Codestral: Accept Proposal" from the palette applies it;
//  6. typing shows ghost text from fill-in-the-middle; Tab accepts it;
//  7. "Codestral: Generate Tests for Selection" writes tests/test_shapes.py and opens it.
// Scenario "review": Review Selection → a problem on line 6 → lightbulb "Codestral: Fix this".
// Waits on UI state only. Screenshots of each step are written next to <png>.
// Usage: PLAYWRIGHT_DIR=<folder with node_modules/playwright-core> node ui.mjs <url> <png-prefix>
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(`${process.env.PLAYWRIGHT_DIR || process.cwd()}/`);
const { chromium } = require("playwright-core");

const [url, shots, scenario = "session"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const seen = {};
const step = async (what, action) => {
  try {
    return await action();
  } catch (error) {
    await page.screenshot({ path: `${shots}-failed.png` }).catch(() => {});
    console.error(`step failed: ${what}: ${error.message}`);
    await browser.close();
    process.exit(1);
  }
};

// The status bar shows where the cursor is; waiting for it after each key keeps Monaco from
// dropping keys, without fixed pauses.
const cursorAt = (line, column) =>
  page.waitForSelector(`.statusbar >> text=/Ln ${line}, Col ${column}\\b/`, { timeout: 10000 });

async function openFile(name, marker) {
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type(name, { delay: 30 });
  await page.waitForSelector(`.quick-input-list .monaco-list-row >> text=${name}`);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.monaco-editor .view-lines >> text=${marker}`, { timeout: 30000 });
}

async function goToLine(line) {
  await page.click(".monaco-editor .view-lines");
  await page.keyboard.press("Control+G");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type(String(line));
  await page.keyboard.press("Enter");
  await cursorAt(line, 1);
}

async function selectLines(first, last) {
  await goToLine(first);
  for (let line = first + 1; line <= last + 1; line++) {
    await page.keyboard.press("Shift+ArrowDown");
    await cursorAt(line, 1);
  }
}

/** Open the lightbulb menu and pick `label`; until the servers have started, ask again. */
async function pickCodeAction(label, prepare, whenShown = async () => {}) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await prepare();
    await page.keyboard.press("Control+.");
    const item = page.getByRole("option", { name: label });
    try {
      await item.first().waitFor({ state: "visible", timeout: 3000 });
      seen[label] = await page.getByRole("option").allInnerTexts();
      await whenShown();
      await item.first().click();
      return;
    } catch {
      await page.keyboard.press("Escape");
    }
  }
  const shown = await page.getByRole("option").allInnerTexts().catch(() => []);
  throw new Error(`no ${label} code action appeared; the menu showed: ${JSON.stringify(shown)}`);
}

async function runFromPalette(title) {
  await page.keyboard.press("Control+Shift+P");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type(title, { delay: 20 });
  await page.waitForSelector(`.quick-input-list .monaco-list-row >> text=${title}`);
  await page.keyboard.press("Enter");
}

async function save({ typed = false } = {}) {
  // Edits from Codestral are saved by VS Code itself (files.refactoring.autoSave); typing is not.
  if (typed) await page.waitForSelector(".tab.active.dirty", { timeout: 10000 });
  await page.keyboard.press("Control+S");
  await page.waitForFunction(() => !document.querySelector(".tab.dirty"), null, { timeout: 10000 });
}

const tabTitles = () => page.$$eval(".tabs-container .tab", (tabs) => tabs.map((t) => t.getAttribute("aria-label") || t.textContent));

await step("open the workbench", async () => {
  await page.goto(url);
  await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
});
await step("open shapes.py", () => openFile("shapes.py", "def area"));

if (scenario === "unreachable") {
  // The API cannot be reached: Document Selection says so in one plain notification.
  await step("Document Selection with the API unreachable", async () => {
    for (let attempt = 0; attempt < 20 && !seen.error; attempt++) {
      await selectLines(5, 8);
      await runFromPalette("Codestral: Document Selection");
      const toast = page.locator(".notification-toast", { hasText: "Could not reach" });
      try {
        await toast.first().waitFor({ state: "visible", timeout: 30000 });
        seen.error = await toast.first().innerText();
      } catch {
        // the language server had not started yet: the command did nothing; ask again
      }
    }
    seen.errorToasts = await page.locator(".notification-toast").count();
    await page.screenshot({ path: `${shots}-unreachable.png` });
  });
  writeFileSync(`${shots}-seen.json`, JSON.stringify(seen, null, 2));
  await browser.close();
  process.exit(seen.error ? 0 : 1);
}

if (scenario === "proposal") {
  await proposalScenario();
  writeFileSync(`${shots}-seen.json`, JSON.stringify(seen, null, 2));
  await browser.close();
  process.exit(0);
}

if (scenario === "review") {
  // Review Selection from the palette: the finding is a problem on its line, and the
  // lightbulb there offers "Codestral: Fix this", which fixes it.
  const message = "Use math.pi, not 3.14.";
  const problems = page.locator(".markers-panel", { hasText: message });
  await step("Review Selection from the palette; the finding shows in the Problems panel", async () => {
    for (let attempt = 0; attempt < 10 && !seen.problem; attempt++) {
      await selectLines(5, 8);
      await runFromPalette("Codestral: Review Selection (findings as diagnostics)");
      try {
        // the status bar counts the problem; until the server has started, the command does nothing
        await page.locator(".statusbar-item[id='status.problems']", { hasText: "1" }).waitFor({ timeout: 15000 });
        seen.problem = true;
      } catch {
        // ask again
      }
    }
    seen.statusProblems = await page.locator(".statusbar-item[id='status.problems']").getAttribute("aria-label");
    await page.keyboard.press("Control+Shift+M");
    await problems.first().waitFor({ state: "visible", timeout: 10000 });
    seen.problemsPanel = await page.locator(".markers-panel").innerText();
  });
  await step("the lightbulb on line 6 offers Codestral: Fix this", async () => {
    await pickCodeAction("Codestral: Fix this", async () => {
      await goToLine(6);
      await page.locator(".monaco-editor .squiggly-warning").first().waitFor({ timeout: 10000 });
    }, () => page.screenshot({ path: `${shots}-review.png` }));
    seen.squiggle = true;
  });
  await step("Fix this fixes the line and the finding goes", async () => {
    await page.waitForSelector(".monaco-editor .view-lines >> text=pi = math.pi", { timeout: 30000 });
    await problems.first().waitFor({ state: "detached", timeout: 15000 });
    seen.problemsAfterFix = await page.locator(".markers-panel").innerText();
    // the progress notifications of the finished jobs close
    const toasts = page.locator(".notification-toast", { hasText: "Codestral" });
    try {
      await page.waitForFunction(() => !document.querySelector(".notification-toast"), null, { timeout: 15000 });
    } catch {
      // seen below
    }
    seen.toastsAfterFix = await toasts.allInnerTexts();
    await page.screenshot({ path: `${shots}-review-fixed.png` });
    await save();
  });
  writeFileSync(`${shots}-seen.json`, JSON.stringify(seen, null, 2));
  await browser.close();
  process.exit(0);
}

await step("1. lightbulb → Codestral: Refactor on lines 5-8", () =>
  pickCodeAction("Codestral: Refactor", () => selectLines(5, 8)),
);
const proposalTab = page.locator(".tabs-container .tab", { hasText: "Codestral's proposal" });
await step("1. the rewrite is proposed as a diff; Ctrl+Enter accepts it; see the new code and save", async () => {
  await proposalTab.first().waitFor({ state: "visible", timeout: 30000 });
  // the diff has the keyboard: Ctrl+Enter goes to it
  await page.locator(".monaco-diff-editor .editor.modified .monaco-editor.focused", { hasText: "3.14 * r ** 2" })
    .waitFor({ timeout: 15000 });
  await page.keyboard.press("Control+Enter");
  await proposalTab.first().waitFor({ state: "detached", timeout: 15000 });
  await page.waitForSelector(".monaco-editor .view-lines >> text=3.14 * r ** 2", { timeout: 30000 });
  await save();
  await page.screenshot({ path: `${shots}-refactor.png` });
});

await step("2. Explain Selection from the palette", async () => {
  await selectLines(5, 6);
  await runFromPalette("Codestral: Explain Selection");
  await page.waitForSelector(".tabs-container .tab >> text=/Preview Explanation 1/", { timeout: 30000 });
  // The preview is a webview: an iframe holding the rendered document in an inner iframe.
  await page
    .frameLocator("iframe.webview")
    .last()
    .frameLocator("iframe")
    .first()
    .getByText("explained by the fake")
    .first()
    .waitFor({ timeout: 30000 });
  seen.explanationRendered = true;
  seen.tabsAfterExplain = await tabTitles();
  seen.dirtyAfterExplain = await page.$$eval(".tab.dirty", (tabs) => tabs.length);
  await page.screenshot({ path: `${shots}-explain.png` });
});

await step("3. a slow refactor shows a cancellable notification; Cancel it", async () => {
  await page.click(".tabs-container .tab >> text=shapes.py");
  await selectLines(5, 6);
  await runFromPalette("Codestral: Refactor Selection");
  const toast = page.locator(".notification-toast", { hasText: "Codestral" });
  await toast.first().waitFor({ state: "visible", timeout: 30000 });
  seen.progressNotification = await toast.first().innerText();
  await page.screenshot({ path: `${shots}-progress.png` });
  await toast.first().getByRole("button", { name: "Cancel" }).click();
  await toast.first().waitFor({ state: "detached", timeout: 15000 });
  await page.waitForSelector(".statusbar >> text=/cancelled/i", { timeout: 15000 });
  seen.statusAfterCancel = await page.locator(".statusbar").innerText();
});

await step("4. Fix is offered for the TypeScript server's diagnostic and fixes it", async () => {
  await openFile("calc.ts", "const count");
  await pickCodeAction("Codestral: Fix", () => selectLines(1, 1));
  await page.waitForSelector(".monaco-editor .view-lines >> text=const count: number = 1;", { timeout: 30000 });
  await save();
  await page.screenshot({ path: `${shots}-fix.png` });
});

await step("5. Edit Selection… from the palette asks once for the instruction", async () => {
  await page.click(".tabs-container .tab >> text=shapes.py");
  await selectLines(9, 10);
  await runFromPalette("Codestral: Edit Selection…");
  await page.locator(".quick-input-widget", { hasText: "What should change?" }).waitFor({ state: "visible" });
  seen.instructionPrompt = await page.locator(".quick-input-widget").innerText();
  await page.keyboard.type("return a constant", { delay: 10 });
  await page.keyboard.press("Enter");
  await proposalTab.first().waitFor({ state: "visible", timeout: 30000 });
  await runFromPalette("Codestral: Accept Proposal");
  await proposalTab.first().waitFor({ state: "detached", timeout: 15000 });
  await page.waitForSelector(".monaco-editor .view-lines >> text=NAME = \"circle\"", { timeout: 30000 });
  // asked once: no second input box comes up
  // asked once: the input goes away (a second prompt would stay, waiting for the user)
  seen.askedAgain = await page
    .locator(".quick-input-widget")
    .waitFor({ state: "hidden", timeout: 5000 })
    .then(() => false, () => true);
  await save();
});

await step("6. ghost text while typing, accepted with Tab", async () => {
  await goToLine(2);
  await page.keyboard.type("perimeter = ", { delay: 20 });
  // Monaco draws ghost text as styled spans, one per token, with non-breaking spaces.
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll(".ghost-text-decoration, .ghost-text")]
        .map((span) => span.textContent)
        .join("")
        .replace(/\u00a0/g, " ")
        .includes("2 * 3.14 * r"),
    null,
    { timeout: 30000 },
  );
  await page.screenshot({ path: `${shots}-ghost.png` });
  await page.keyboard.press("Tab");
  await page.waitForSelector(".monaco-editor .view-lines >> text=perimeter = 2 * 3.14 * r", { timeout: 10000 });
  await save({ typed: true });
});

await step("7. Generate Tests for Selection writes the test file into the project", async () => {
  await selectLines(5, 7);
  await runFromPalette("Codestral: Generate Tests for Selection");
  await page.waitForSelector(".tabs-container .tab >> text=test_shapes.py", { timeout: 30000 });
  await page.waitForSelector(".monaco-editor .view-lines >> text=def test_area", { timeout: 30000 });
  await page.screenshot({ path: `${shots}-tests.png` });
  seen.testsUnsaved = (await page.locator(".tab.active.dirty").count()) > 0;
  await save({ typed: seen.testsUnsaved });
});

writeFileSync(`${shots}-seen.json`, JSON.stringify(seen, null, 2));
await browser.close();
console.log("ok");

// Scenario "proposal" (geometry.py; rewrites are reviewed): each step runs Refactor Selection
// from the palette, sees the proposal as a diff, and answers it as a person would.
//  A. the region is marked while the model writes; the diff opens; Accept (title button); the
//     changed lines are highlighted;
//  B. type a line above the code, then "Codestral: Accept Proposal" from the palette: it lands;
//  C. type inside the code, then Ctrl+Enter in the diff: refused, the answer kept, the user told;
//  D. the diff closed by hand comes back from the status bar; Reject (title button): nothing changes;
//  D2. a second Refactor of code with an open proposal: only the new proposal's diff is left;
//  E. Retry (title button) asks once for an instruction; the new proposal is accepted;
//  F. reviewExpirySeconds is lowered; a proposal left alone expires: the diff closes, one message.
// Signals to the test (stdout): "signal:streaming" while A is held.
async function proposalScenario() {
  const proposalTab = page.locator(".tabs-container .tab", { hasText: "Codestral's proposal" });
  const toasts = page.locator(".notification-toast");
  const button = (name) => page.locator(`.editor-actions .action-label[aria-label^="${name}"]`);
  // Decorations of extensions have generated classes "ced-…"; whole-line ones are overlays.
  const markedLines = () => page.$$eval(".view-overlays [class*='ced-']", (els) => els.length);
  const notes = () =>
    page.$$eval(".monaco-editor .view-lines [class*='ced-']", (els) =>
      els
        .map((el) => [el.textContent, getComputedStyle(el, "::after").content])
        .flat()
        .filter((text) => text && text !== "none")
        .map((text) => text.replace(/^"|"$/g, ""))
        .join(" "),
    );
  const diffShows = (text) =>
    page.locator(".monaco-diff-editor .editor.modified .view-lines", { hasText: text }).first().waitFor({ timeout: 30000 });
  const propose = async (first, last, proposedText) => {
    await selectLines(first, last);
    await runFromPalette("Codestral: Refactor Selection");
    await proposalTab.first().waitFor({ state: "visible", timeout: 30000 });
    await diffShows(proposedText);
  };
  const closed = () => proposalTab.first().waitFor({ state: "detached", timeout: 15000 });
  const dismissToasts = async () => {
    await page.keyboard.press("Escape");
    if (await toasts.count()) await runFromPalette("Notifications: Clear All Notifications");
    await page.waitForFunction(() => !document.querySelector(".notification-toast"), null, { timeout: 10000 });
  };

  await step("open geometry.py", () => openFile("geometry.py", "def circle_area"));

  await step("A. Refactor: the region is marked while the model writes", async () => {
    await selectLines(5, 7);
    await runFromPalette("Codestral: Refactor Selection");
    await page.waitForFunction(
      () => document.querySelectorAll(".view-overlays [class*='ced-']").length >= 3, null, { timeout: 30000 });
    seen.markedWhileStreaming = await markedLines();
    await page.waitForFunction(() => {
      const els = [...document.querySelectorAll(".view-lines [class*='ced-']")];
      return els.some((el) => `${el.textContent}${getComputedStyle(el, "::after").content}`.includes("Refactor is writing"));
    }, null, { timeout: 30000 });
    seen.noteWhileStreaming = await notes();
    await page.screenshot({ path: `${shots}-streaming.png` });
    console.log("signal:streaming");
  });
  await step("A. the proposal opens as a diff; the mark is gone", async () => {
    await proposalTab.first().waitFor({ state: "visible", timeout: 30000 });
    await diffShows("pi = math.pi");
    seen.proposalTab = await proposalTab.first().innerText();
    seen.markedAfterStreaming = await page.$$eval(
      ".monaco-diff-editor .editor.original .view-overlays [class*='ced-']", (els) => els.length);
    seen.titleButtons = await page.$$eval(".editor-actions .action-label", (els) => els.map((el) => el.getAttribute("aria-label")));
    seen.statusWhenProposed = await page.locator(".statusbar").innerText();
    // the finished job's progress notification closes
    await toasts.filter({ hasText: "Refactor" }).first().waitFor({ state: "detached", timeout: 15000 }).catch(() => {});
    seen.toastsWhenProposed = await toasts.allInnerTexts();
    await page.screenshot({ path: `${shots}-proposal.png` });
  });
  await step("A. Accept from the title bar: it lands, the changed lines are highlighted", async () => {
    await button("Accept Proposal").click();
    await closed();
    await page.waitForSelector(".monaco-editor .view-lines >> text=pi = math.pi", { timeout: 15000 });
    await page.waitForFunction(
      () => document.querySelectorAll(".view-overlays [class*='ced-']").length >= 2, null, { timeout: 5000 });
    seen.highlightedAfterAccept = await markedLines();
    await page.screenshot({ path: `${shots}-accepted.png` });
    await page.waitForFunction(
      () => document.querySelectorAll(".view-overlays [class*='ced-']").length === 0, null, { timeout: 15000 });
    seen.highlightFaded = true;
  });

  await step("B. typing above the code, then Accept Proposal from the palette: it lands below", async () => {
    await propose(11, 12, "area = side * side");
    await openFile("geometry.py", "def circle_area"); // back to the file's own editor
    await goToLine(1);
    await page.keyboard.type("# geometry", { delay: 20 });
    await page.keyboard.press("Enter");
    await cursorAt(2, 1);
    await runFromPalette("Codestral: Accept Proposal");
    await closed();
    await page.waitForSelector(".monaco-editor .view-lines >> text=return area", { timeout: 15000 });
  });

  await step("C. typing inside the code, then Ctrl+Enter in the diff: refused, kept, said", async () => {
    await propose(17, 18, "base / 2.0"); // one line lower since B
    await openFile("geometry.py", "def circle_area");
    await goToLine(17);
    await page.keyboard.press("End");
    await page.keyboard.type("  # halve", { delay: 20 });
    await proposalTab.first().click();
    await page.locator(".monaco-diff-editor .editor.modified .view-lines").first().click();
    await page.keyboard.press("Control+Enter");
    await closed();
    const warning = toasts.filter({ hasText: "geometry" });
    await warning.first().waitFor({ state: "visible", timeout: 15000 });
    seen.refusedToasts = await toasts.allInnerTexts();
    await page.screenshot({ path: `${shots}-refused.png` });
    await dismissToasts();
  });

  await step("D. Reject from the title bar: nothing changes", async () => {
    await openFile("geometry.py", "def circle_area");
    await propose(22, 23, "shape.name.title()");
    // closing the diff does not lose the proposal: the status bar offers it again
    await page.keyboard.press("Control+W");
    await closed();
    const item = page.locator(".statusbar-item", { hasText: "Codestral: proposal" });
    await item.first().waitFor({ state: "visible", timeout: 10000 });
    seen.statusItemAfterClose = await item.first().innerText();
    await item.first().click();
    await proposalTab.first().waitFor({ state: "visible", timeout: 15000 });
    await diffShows("shape.name.title()");
    await button("Reject Proposal").click();
    await closed();
    await page.waitForSelector(".statusbar >> text=/rejected/", { timeout: 15000 });
    seen.statusAfterReject = await page.locator(".statusbar").innerText();
  });

  await step("D2. Refactor again on code with an open proposal: the new one replaces it", async () => {
    await openFile("geometry.py", "def circle_area");
    await propose(22, 23, "shape.name.upper()");
    await openFile("geometry.py", "def circle_area");
    await propose(22, 23, "str(shape.name)");
    seen.proposalTabsAfterSecondRun = await proposalTab.count();
    await button("Reject Proposal").click();
    await closed();
  });

  await step("E. Retry asks once for what to change; the new proposal is accepted", async () => {
    await openFile("geometry.py", "def circle_area");
    await propose(27, 28, "tau = 6.28");
    await button("Retry Proposal").click();
    const input = page.locator(".quick-input-widget", { hasText: "What should change in this answer?" });
    await input.waitFor({ state: "visible", timeout: 10000 });
    seen.retryPrompt = await input.innerText();
    await page.keyboard.type("use math.tau", { delay: 10 });
    await page.keyboard.press("Enter");
    await diffShows("tau = math.tau");
    seen.askedAgain = await page
      .locator(".quick-input-widget")
      .waitFor({ state: "hidden", timeout: 5000 })
      .then(() => false, () => true);
    seen.proposalTabsAfterRetry = await proposalTab.count();
    await button("Accept Proposal").click();
    await closed();
    await page.waitForSelector(".monaco-editor .view-lines >> text=tau = math.tau", { timeout: 15000 });
  });

  await step("save", async () => {
    // Accept showed the file's own editor
    await page.locator(".tab.active", { hasText: "geometry.py" }).waitFor();
    await save({ typed: true });
  });

  await step("F. a proposal left unanswered expires: its diff closes, one message says so", async () => {
    // in the Settings editor, as a user sets it
    await page.keyboard.press("Control+,");
    await page.waitForSelector(".settings-editor .suggest-input-container", { timeout: 15000 });
    await page.keyboard.type("codestral.reviewExpirySeconds", { delay: 10 });
    const field = page.locator('.settings-editor input[aria-label="codestral.reviewExpirySeconds"]');
    await field.waitFor({ state: "visible", timeout: 15000 });
    await field.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.type(process.env.CODESTRAL_EXPIRY, { delay: 10 });
    await page.keyboard.press("Tab");
    // saved: the setting shows as modified
    await page
      .locator('.settings-editor .setting-item-contents.is-configured[data-key="codestral.reviewExpirySeconds"]')
      .waitFor({ timeout: 15000 });
    await page.screenshot({ path: `${shots}-expiry-setting.png` });
    await page.keyboard.press("Control+W");
    await page.locator(".tab.active", { hasText: "geometry.py" }).waitFor();
    await propose(12, 13, "side ** 2");
    const expired = toasts.filter({ hasText: "expired" });
    await expired.first().waitFor({ state: "visible", timeout: 60000 });
    await closed();
    seen.expiredToasts = await toasts.allInnerTexts();
    seen.proposalTabsAfterExpiry = await proposalTab.count();
    await page.screenshot({ path: `${shots}-expired.png` });
  });
}
