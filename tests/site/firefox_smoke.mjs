// Firefox smoke run for tests/site/test_firefox.py: Debian's firefox-esr driven by puppeteer-core
// over WebDriver BiDi (no geckodriver, no downloaded browser).
//
//   node tests/site/firefox_smoke.mjs [--submit] [--variants] URL [IMAGE...]
//
// Loads URL, waits for window.localhash.ready, hashes each image with window.localhash.hashFile
// (bytes read here, passed into the page as base64), with --submit then sends their hashes through
// window.localhash.submit, and prints one JSON object to stdout: {records: [one per image, in
// order], requests: [{url, method, postData?}], submitted, errors, userAgent, worker_requests_seen}.
// Every request the page makes is recorded. Under BiDi, Firefox also reports the requests of the
// page's dedicated worker (its pyodide/* fetches): worker_requests_seen says whether any were, so
// the Python test can insist on it rather than trust a silently narrower view.
import { readFileSync } from "node:fs";
import { guardFirefox, launchFirefox } from "../firefox.mjs";

const TIMEOUT_MS = 120_000; // per step (launch, load, ready, one file)
const DEADLINE_MS = 240_000; // the whole run; test_firefox.py waits 300 s

const args = process.argv.slice(2);
const submit = args.includes("--submit");
const variants = args.includes("--variants"); // hash with {variants: true, dihedral: true}
const [url, ...images] = args.filter((a) => a !== "--submit" && a !== "--variants");
if (!url) {
  console.error("usage: node tests/site/firefox_smoke.mjs URL [IMAGE...]");
  process.exit(2);
}

const browser = await launchFirefox({ timeoutMs: TIMEOUT_MS });
const guard = guardFirefox(browser, "firefox_smoke", DEADLINE_MS);

const requests = [];
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const bodies = [];
  page.on("request", (request) => {
    const entry = { url: request.url(), method: request.method() };
    requests.push(entry);
    // BiDi has no postData() on the event; the body is fetched with network.getData. When the
    // browser cannot give it, postData stays absent and postDataError says why.
    if (request.hasPostData()) {
      bodies.push(
        request.fetchPostData().then(
          (body) => (entry.postData = body),
          (error) => (entry.postDataError = String(error).split("\n")[0]), // Firefox 140: unknown command
        ),
      );
    }
  });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url, { waitUntil: "load" });
  await page.evaluate(() => window.localhash.ready);

  const records = [];
  for (const image of images) {
    const b64 = readFileSync(image).toString("base64");
    records.push(
      await page.evaluate(
        async (data, options) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          return await window.localhash.hashFile(new Blob([bytes]), options);
        },
        b64,
        variants ? { variants: true, dihedral: true } : {},
      ),
    );
  }
  let submitted = null;
  if (submit) {
    submitted = await page.evaluate(async (recs) => {
      const hashes = recs.flatMap((r) => window.localhash.hashesOf(r));
      const consent = { adult: true, depicted: true, intimate: true, share_hashes: true };
      return await window.localhash.submit({ hashes, pin: "482913", consent });
    }, records);
  }
  await Promise.all(bodies);
  const pyodideFetches = requests.filter((r) => /\/pyodide-[0-9a-f]{16}\//.test(new URL(r.url).pathname));
  const userAgent = await page.evaluate(() => navigator.userAgent);
  process.stdout.write(
    JSON.stringify({ records, requests, submitted, errors, userAgent, worker_requests_seen: pyodideFetches.length > 0 }) + "\n",
  );
} finally {
  await guard.done();
}
