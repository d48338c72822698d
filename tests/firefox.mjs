// How the Firefox tests start Debian's firefox-esr: puppeteer-core over WebDriver BiDi (no
// geckodriver, no downloaded browser), with Firefox's own background traffic (updates, telemetry,
// safe browsing) switched off so that what is recorded is the page's traffic. Shared by
// tests/site/firefox_smoke.mjs and tests/flow/firefox_flow.mjs.
import puppeteer from "puppeteer-core";

const FIREFOX = process.env.LOCALHASH_FIREFOX || "/usr/bin/firefox-esr";

export async function launchFirefox({ timeoutMs, prefs = {} }) {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    protocol: "webDriverBiDi",
    timeout: timeoutMs,
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "browser.safebrowsing.malware.enabled": false,
      "browser.safebrowsing.phishing.enabled": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
      ...prefs,
    },
  });
}

// Never leave a Firefox behind: close it on a signal, and give up (exit 3) before the caller's own
// timeout would kill node and orphan the browser. `done()` stops the watchdog and closes Firefox once.
export function guardFirefox(browser, name, deadlineMs) {
  let closing = null;
  const close = () => (closing ??= browser.close().catch(() => {}));
  function shutDown(code, reason) {
    console.error(`${name}: ${reason}`);
    close().finally(() => process.exit(code));
  }
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => shutDown(130, signal));
  const watchdog = setTimeout(() => shutDown(3, `no result within ${deadlineMs} ms`), deadlineMs);
  return {
    done() {
      clearTimeout(watchdog);
      return close();
    },
  };
}
