// Firefox smoke run of the victim's flow for tests/flow/test_firefox_flow.py: Debian's firefox-esr
// driven by puppeteer-core over WebDriver BiDi, through the page as a person uses it (with Dutch
// as the browser's language): eligibility, the file picker, review, PIN, send, status, withdrawal.
//
//   node tests/flow/firefox_flow.mjs URL PIN FILE...
//
// Prints one JSON object: {lang, shown (the review panel's JSON), caseNumber, states, fileStates,
// requests: [{url, method}], errors, userAgent}.
import { guardFirefox, launchFirefox } from "../firefox.mjs";

const TIMEOUT_MS = 120_000; // per step: Pyodide boots and hashes in Firefox too
const DEADLINE_MS = 200_000; // the whole run; the Python side waits 240 s

const [url, pin, ...files] = process.argv.slice(2);
if (!url || !pin || !files.length) {
  console.error("usage: node tests/flow/firefox_flow.mjs URL PIN FILE...");
  process.exit(2);
}

const browser = await launchFirefox({ timeoutMs: TIMEOUT_MS, prefs: { "intl.accept_languages": "nl-NL, nl, en" } });
const guard = guardFirefox(browser, "firefox_flow", DEADLINE_MS);

try {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const requests = [];
  page.on("request", (request) => requests.push({ url: request.url(), method: request.method() }));
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  const text = (selector) => page.$eval(selector, (el) => el.textContent);
  // page.waitForFunction builds a Function inside the page, which the site's CSP (rightly) refuses:
  // poll with evaluate instead.
  const until = async (predicate, arg) => {
    for (const start = Date.now(); Date.now() - start < TIMEOUT_MS; await new Promise((r) => setTimeout(r, 200))) {
      if (await page.evaluate(predicate, arg)) return;
    }
    throw new Error(`timed out waiting for ${predicate}`);
  };

  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready]");
  const lang = await page.$eval("html", (el) => el.lang);

  // 1. Eligibility
  for (const id of ["#age-adult", "#consent-depicted", "#consent-intimate", "#consent-share"]) await page.click(id);
  await page.click("#eligibility-next");
  await page.waitForSelector("#step-files:not([hidden])");

  // 2. Files, through the picker
  const input = await page.$("#files");
  await input.uploadFile(...files);
  await until(
    (n) => document.querySelectorAll("#results li").length === n && !document.querySelector("#results li.pending"),
    files.length,
  );
  const fileStates = await page.$$eval("#results li", (items) => items.map((li) => li.className));
  await page.click("#files-next");

  // 3. Review, 4. PIN and send
  await page.waitForSelector("#step-review:not([hidden])");
  const shown = JSON.parse(await text("#sent-json"));
  await page.click("#review-next");
  await page.type("#pin-1", pin);
  await page.type("#pin-2", pin);
  await page.click("#send");
  await page.waitForSelector("#step-done:not([hidden])");
  const caseNumber = await text("#case-number");

  // 5. Status, 6. Withdraw
  await page.click("#done-status");
  await page.type("#status-pin", pin);
  await page.click("#status-check");
  await page.waitForSelector("#status-state[data-state]");
  const states = [await page.$eval("#status-state", (el) => el.dataset.state)];
  await page.click("#withdraw");
  await page.click("#withdraw-yes");
  await page.waitForSelector("#status-state[data-state=withdrawn]");
  states.push("withdrawn");

  const userAgent = await page.evaluate(() => navigator.userAgent);
  process.stdout.write(JSON.stringify({ lang, shown, caseNumber, states, fileStates, requests, errors, userAgent }) + "\n");
} finally {
  await guard.done();
}
