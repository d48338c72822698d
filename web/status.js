// Step 5 and 6: a case's status and, per hash, what each partner reported, in plain words; then
// withdrawal, after a confirmation. Both ask the bank with the case number and PIN (submit.js).
(function () {
  "use strict";

  const ui = window.localhashUI;
  const STATE_KEYS = {
    received: "status.state.received",
    active: "status.state.active",
    withdrawn: "status.state.withdrawn",
  };
  const TYPE_KEYS = { pdq: "type.pdq", md5: "type.md5", sha256: "type.sha256", vpdq: "type.vpdq" };
  // What a hash is of (the bank's "kind"): the picture, or a copy the victim asked to protect too.
  const TURNS = ["rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"];
  const KIND_KEYS = { original: "kind.original", oriented: "kind.oriented" };
  const kindKey = (kind) => KIND_KEYS[kind] || (TURNS.includes(kind) ? "kind.turned" : "kind.framed");
  const REPORT_KEYS = { blocked: "report.blocked", not_blocked: "report.not_blocked", pending: "report.pending" };
  let opened = null; // {caseNumber, pin} of the case shown
  let busy = false;
  const $ = (id) => document.getElementById(id);

  function element(tag, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    return el;
  }

  function errorKey(answer) {
    if (!answer) return "status.error.network";
    const code = answer.body?.error?.code;
    if (answer.status === 404) return "status.error.notfound";
    if (code === "wrong_pin") return "status.error.pin";
    if (code === "locked") return "status.error.locked";
    if (code === "invalid_pin") return "status.error.input";
    return "status.error.other";
  }

  function renderHash(hash) {
    const { setText } = ui.i18n;
    const item = element("li");
    const title = element("span", "hash-type");
    setText(title, TYPE_KEYS[hash.type] || "type.other", { frames: hash.frames, type: hash.type });
    const value = element("code", "hash-value");
    value.textContent = hash.value;
    const kind = element("span", "hash-kind");
    if (typeof hash.kind === "string") {
      setText(kind, kindKey(hash.kind));
      kind.dataset.kind = hash.kind;
    }
    const reports = element("ul");
    for (const report of hash.feedback || []) {
      const line = element("li", `report ${report.result}`);
      setText(line, REPORT_KEYS[report.result] || "report.pending", { partner: report.partner, date: report.at });
      reports.append(line);
    }
    if (!reports.children.length) {
      const line = element("li", "report none");
      setText(line, "report.none");
      reports.append(line);
    }
    item.append(title, " ", kind, " ", value, reports);
    return item;
  }

  // One line per partner: how many of the case's hashes it blocks, does not block, or has not reported on.
  function renderSummary(hashes) {
    const partners = new Map();
    for (const hash of hashes) {
      for (const report of hash.feedback || []) {
        const counts = partners.get(report.partner) || { blocked: 0, not_blocked: 0, pending: 0 };
        counts[report.result in counts ? report.result : "pending"] += 1;
        partners.set(report.partner, counts);
      }
    }
    const lines = [...partners].map(([partner, counts]) => {
      const line = element("li");
      ui.i18n.setText(line, "status.summary.partner", { partner, total: hashes.length, ...counts });
      return line;
    });
    if (!lines.length) {
      const line = element("li");
      ui.i18n.setText(line, "status.summary.none");
      lines.push(line);
    }
    $("status-summary").replaceChildren(...lines);
  }

  function render(answer) {
    const state = answer.status;
    ui.i18n.setText($("status-state"), STATE_KEYS[state] || "status.state.received", { date: answer.status_changed });
    $("status-state").dataset.state = state;
    renderSummary(answer.hashes || []);
    $("status-hashes").replaceChildren(...(answer.hashes || []).map(renderHash));
    $("withdraw").hidden = state === "withdrawn";
    $("withdraw-confirm").hidden = true;
    $("status-result").hidden = false;
  }

  async function ask(call) {
    try {
      return await call();
    } catch {
      return null; // the network failed
    }
  }

  async function check() {
    if (busy) return;
    const error = $("status-error");
    const caseNumber = $("status-case").value.trim();
    const pin = $("status-pin").value.trim();
    if (!caseNumber || !/^[0-9]{6,32}$/.test(pin)) {
      ui.i18n.setText(error, "status.error.input");
      (caseNumber ? $("status-pin") : $("status-case")).focus();
      return;
    }
    busy = true;
    const answer = await ask(() => window.localhash.caseStatus(caseNumber, pin));
    busy = false;
    if (!answer || !answer.ok) {
      ui.i18n.setText(error, errorKey(answer));
      $("status-result").hidden = true;
      opened = null;
      return;
    }
    ui.i18n.clear(error);
    opened = { caseNumber: answer.body.case_number, pin };
    render(answer.body);
    $("status-state").focus();
  }

  function askToWithdraw() {
    $("withdraw").hidden = true;
    $("withdraw-confirm").hidden = false;
    $("withdraw-text").focus();
  }

  function keep() {
    $("withdraw-confirm").hidden = true;
    $("withdraw").hidden = false;
    $("withdraw").focus();
  }

  async function withdraw() {
    if (busy || !opened) return;
    busy = true;
    const answer = await ask(() => window.localhash.withdrawCase(opened.caseNumber, opened.pin));
    const status = answer?.ok ? await ask(() => window.localhash.caseStatus(opened.caseNumber, opened.pin)) : null;
    busy = false;
    if (!answer?.ok || !status?.ok) {
      ui.i18n.setText($("status-error"), errorKey(answer?.ok ? status : answer));
      return;
    }
    ui.i18n.clear($("status-error")); // an earlier failed attempt's message no longer holds
    render(status.body);
    ui.announce("withdraw.done");
    $("status-state").focus();
  }

  // Show the status screen, with a case number filled in (just created, or remembered).
  function open(caseNumber) {
    const remembered = ui.receipt.remembered();
    const field = $("status-case");
    if (caseNumber) field.value = caseNumber;
    else if (!field.value && remembered) field.value = remembered;
    $("remembered").hidden = !remembered || field.value !== remembered;
    ui.show("status");
  }

  function setUp() {
    $("status-form").addEventListener("submit", (event) => {
      event.preventDefault();
      check();
    });
    $("withdraw").addEventListener("click", askToWithdraw);
    $("withdraw-no").addEventListener("click", keep);
    $("withdraw-yes").addEventListener("click", withdraw);
    $("forget").addEventListener("click", () => {
      ui.receipt.forget();
      $("remembered").hidden = true;
      ui.announce("status.forgotten");
      $("status-case").focus();
    });
  }

  ui.openStatus = open;
  ui.status = { setUp };
})();
