// After sending: the case number and PIN with copy buttons, a receipt made in the page as a text
// file (the PIN only when asked), and "remember my case number" — the only thing this site ever
// stores on the device, and only while that box is ticked.
(function () {
  "use strict";

  const ui = window.localhashUI;
  const STORAGE_KEY = "localhash.caseNumber";
  let created = null; // {caseNumber, pin, hashes, date}
  let vpdqNames = new Map(); // a vPDQ's frames (hashKey) -> the SHA-256 the bank names it by
  const $ = (id) => document.getElementById(id);

  function say(key, vars) {
    ui.i18n.setText($("done-message"), key, vars);
  }

  async function copy(text, source, doneKey) {
    try {
      await navigator.clipboard.writeText(text);
      say(doneKey);
    } catch {
      // No clipboard here (an insecure origin, a refused permission): select it for the person.
      window.getSelection().selectAllChildren(source);
      say("done.copy_failed");
    }
  }

  function receiptText(withPin) {
    const { t } = ui.i18n;
    const lines = [
      t("receipt.title"),
      "",
      t("receipt.case", { case: created.caseNumber }),
      t("receipt.date", { date: created.date }),
      withPin ? t("receipt.pin", { pin: created.pin }) : t("receipt.nopin"),
      "",
      t("receipt.hashes", { count: created.hashes.length }),
    ];
    for (const hash of created.hashes) {
      if (hash.type === "vpdq") {
        const name = vpdqNames.get(window.localhash.hashKey(hash));
        lines.push(`vpdq ${name} (${t("receipt.frames", { count: hash.value.length })})`);
        continue;
      }
      const quality = hash.quality === undefined ? "" : ` (${t("receipt.quality", { quality: hash.quality })})`;
      lines.push(`${hash.type} ${hash.value}${quality}${hash.kind ? ` ${hash.kind}` : ""}`);
    }
    const url = new URL(".", document.baseURI).href;
    lines.push("", t("receipt.where", { url }), t("receipt.warning"), "");
    return lines.join("\r\n");
  }

  async function download() {
    await nameVideos();
    const name = `localhash-receipt-${created.caseNumber}.txt`;
    const blob = new Blob([receiptText($("receipt-pin").checked)], { type: "text/plain;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // long enough for the download to start
    say("done.receipt.saved", { file: name });
  }

  function storage() {
    try {
      return window.localStorage;
    } catch {
      return null; // storage switched off: nothing to remember or forget
    }
  }

  function remembered() {
    return storage()?.getItem(STORAGE_KEY) || null;
  }

  function forget() {
    storage()?.removeItem(STORAGE_KEY);
    if ($("remember")) $("remember").checked = false;
  }

  function rememberChanged() {
    if ($("remember").checked) {
      storage()?.setItem(STORAGE_KEY, created.caseNumber);
      say("done.remembered");
    } else {
      storage()?.removeItem(STORAGE_KEY);
      say("done.forgotten");
    }
  }

  // A video's vPDQ is a list of frames: the receipt names it as the bank does (by their SHA-256), with how
  // many frames it has, so it can be found in the case's status.
  async function nameVideos() {
    for (const hash of created.hashes.filter((h) => h.type === "vpdq")) {
      const key = window.localhash.hashKey(hash);
      if (!vpdqNames.has(key)) vpdqNames.set(key, await window.localhash.vpdqDigest(hash.value));
    }
  }

  function caseCreated(details) {
    created = details;
    vpdqNames = new Map();
    $("case-number").textContent = details.caseNumber;
    $("case-pin").textContent = details.pin;
    ui.i18n.clear($("done-message"));
    $("receipt-pin").checked = false;
    $("remember").checked = remembered() === details.caseNumber;
    ui.show("done");
  }

  function setUp() {
    $("copy-case").addEventListener("click", () => copy(created.caseNumber, $("case-number"), "done.copied.case"));
    $("copy-pin").addEventListener("click", () => copy(created.pin, $("case-pin"), "done.copied.pin"));
    $("download-receipt").addEventListener("click", download);
    $("remember").addEventListener("change", rememberChanged);
    $("done-status").addEventListener("click", () => ui.openStatus(created.caseNumber));
  }

  ui.caseCreated = caseCreated;
  ui.receipt = { setUp, remembered, forget, text: receiptText };
})();
