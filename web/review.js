// Steps 3 and 4: what will be sent (the exact JSON, built by submit.js's allow-list), the PIN,
// and the one request that sends it. A failed attempt keeps everything prepared; a retry of the
// same submission carries the same Idempotency-Key, so the bank never creates a second case.
(function () {
  "use strict";

  const ui = window.localhashUI;
  const MAX_HASHES = 200; // the bank's limit per case (py/hashbank/validation.py)
  const MIN_QUALITY = 50; // Meta discards PDQ hashes of quality 49 or less (py/localhash/hashtypes.py)
  const PIN = /^[0-9]{6,32}$/; // what the bank accepts (py/hashbank/credentials.py)
  let prepared = null; // {text, key}: the last submission tried, and its Idempotency-Key
  let sending = false;
  let making = false; // the variants are being made
  const options = () => ({ dihedral: $("dihedral").checked, variants: $("variants").checked });
  const $ = (id) => document.getElementById(id);

  // Every hash of every fingerprinted file, each once, in the shape the bank takes.
  function hashes() {
    const chosen = options();
    const seen = new Set();
    const out = [];
    for (const entry of ui.files.ready()) {
      for (const hash of window.localhash.hashesOf(entry.record, chosen)) {
        const id = window.localhash.hashKey(hash);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(hash);
      }
    }
    return out;
  }

  // The body without the PIN: exactly what the review panel shows.
  function bodyWithoutPin() {
    return window.localhash.buildCaseBody({ hashes: hashes(), consent: ui.consent() });
  }

  function renderFiles() {
    const { setText } = ui.i18n;
    const list = $("review-files");
    list.replaceChildren();
    const chosen = options();
    for (const entry of ui.files.all()) {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = entry.file.name; // shown here only; never sent
      const note = document.createElement("span");
      note.className = "status";
      item.append(name, note);
      if (entry.state !== "ok") {
        setText(note, "review.failed");
        item.className = "error";
      } else {
        setText(note, "review.file.count", { count: window.localhash.hashesOf(entry.record, chosen).length });
        if (Number.isInteger(entry.record.pdq_quality) && entry.record.pdq_quality < MIN_QUALITY) {
          const warning = document.createElement("span");
          warning.className = "warning low-quality";
          setText(warning, "review.lowquality", { quality: entry.record.pdq_quality });
          item.append(warning);
        }
        if (chosen.variants && entry.variantsFailed) {
          const warning = document.createElement("span");
          warning.className = "warning variants-failed";
          setText(warning, "review.variants.failed");
          item.append(warning);
        }
      }
      list.append(item);
    }
  }

  // Variants are made only when asked for (they cost about twice a picture's own fingerprint), for
  // every picture that has none yet: also for files added after the box was ticked.
  async function makeVariants() {
    if (making || !$("variants").checked) return;
    const status = $("variants-status");
    let made = 0;
    making = true;
    await ui.files.makeVariants((done, total) => {
      made = total;
      if (total) ui.i18n.setText(status, "review.variants.progress", { done, total });
    });
    making = false;
    if (!made) return; // nothing was missing: nothing to show again
    ui.i18n.setText(status, "review.variants.done");
    render();
  }

  function render() {
    makeVariants();
    renderFiles();
    const body = bodyWithoutPin();
    $("sent-json").textContent = JSON.stringify(body, null, 2);
    ui.i18n.setText($("sent-count"), "review.sent.count", { count: body.hashes.length });
    if (body.hashes.length > MAX_HASHES) ui.i18n.setText($("review-error"), "review.toomany", { max: MAX_HASHES });
    else ui.i18n.clear($("review-error"));
  }

  function reviewNext() {
    if (making) {
      ui.i18n.setText($("review-error"), "review.variants.wait");
      return;
    }
    if (bodyWithoutPin().hashes.length > MAX_HASHES) {
      ui.i18n.setText($("review-error"), "review.toomany", { max: MAX_HASHES });
      $($("variants").checked ? "variants" : "dihedral").focus();
      return;
    }
    ui.show("pin");
  }

  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function failure(answer) {
    if (!answer) return ["pin.error.network"];
    if (answer.status === 429) return ["pin.error.rate"];
    if (answer.status >= 500) return ["pin.error.server"];
    return ["pin.error.rejected", { code: String(answer.body?.error?.code || answer.status) }];
  }

  async function send() {
    if (sending) return;
    const error = $("pin-error");
    const pin = $("pin-1").value.trim();
    if (!PIN.test(pin)) {
      ui.i18n.setText(error, "pin.error.short");
      $("pin-1").focus();
      return;
    }
    if ($("pin-2").value.trim() !== pin) {
      ui.i18n.setText(error, "pin.error.mismatch");
      $("pin-2").focus();
      return;
    }
    ui.i18n.clear(error);
    const body = window.localhash.buildCaseBody({ pin, consent: ui.consent(), hashes: hashes() });
    const text = JSON.stringify(body);
    // The same submission keeps its key (a retry); a changed one is a new submission.
    if (!prepared || prepared.text !== text) prepared = { text, key: newKey() };
    sending = true;
    const button = $("send");
    button.setAttribute("aria-disabled", "true");
    ui.i18n.setText(button, "pin.sending");
    let answer = null;
    try {
      answer = await window.localhash.submit(body, { idempotencyKey: prepared.key });
    } catch {
      answer = null; // the network failed: nothing came back
    }
    sending = false;
    button.removeAttribute("aria-disabled");
    if (answer && answer.status === 201 && typeof answer.body?.case_number === "string") {
      prepared = null;
      ui.i18n.setText(button, "pin.send");
      ui.caseCreated({ caseNumber: answer.body.case_number, pin, hashes: body.hashes, date: new Date().toISOString() });
      return;
    }
    ui.i18n.setText(button, "pin.retry");
    ui.i18n.setText(error, ...failure(answer));
    button.focus();
  }

  function setUp() {
    $("dihedral").addEventListener("change", render);
    $("variants").addEventListener("change", () => {
      ui.i18n.clear($("variants-status"));
      render();
    });
    $("review-next").addEventListener("click", reviewNext);
    $("pin-form").addEventListener("submit", (event) => {
      event.preventDefault(); // the form is never submitted: send() posts the allow-listed JSON
      send();
    });
  }

  ui.review = { setUp, render };
})();
