// The page: which step shows, step 1 (eligibility and consent), the loading indicator, the
// language switch, and the wiring of files.js, review.js, receipt.js and status.js. Everything
// stays in memory; the steps add no history entries (so Quick exit leaves nothing to go back to).
(function () {
  "use strict";

  const ui = window.localhashUI;
  const STEPS = ["eligibility", "files", "review", "pin", "done", "status"];
  const NUMBERED = ["eligibility", "files", "review", "pin"];
  const STAGE_KEYS = {
    idle: "engine.idle",
    runtime: "engine.runtime",
    packages: "engine.packages",
    localhash: "engine.localhash",
    ready: "engine.ready",
    failed: "engine.failed",
  };
  const STAGE_PROGRESS = { idle: 0, runtime: 1, packages: 2, localhash: 3, ready: 4, failed: 0 };
  const $ = (id) => document.getElementById(id);

  function announce(key, vars) {
    ui.i18n.setText($("announce"), key, vars);
  }

  function show(step, { focus = true } = {}) {
    for (const name of STEPS) $(`step-${name}`).hidden = name !== step;
    $("intro").hidden = step !== "eligibility";
    $("steps").hidden = !NUMBERED.includes(step);
    const position = NUMBERED.indexOf(step);
    for (const item of $("steps").querySelectorAll("li")) {
      const index = NUMBERED.indexOf(item.dataset.step);
      if (index === position) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
      item.classList.toggle("done", position >= 0 && index < position);
    }
    document.body.dataset.step = step;
    // Checking a case needs no fingerprint tool: its download stops there (hasher.js pause).
    if (step === "status") window.localhash.pause();
    else window.localhash.resume();
    if (step === "review") ui.review.render();
    if (focus) {
      window.scrollTo(0, 0);
      $(`${step}-title`).focus();
    }
  }

  function consent() {
    return {
      adult: $("age-adult").checked,
      depicted: $("consent-depicted").checked,
      intimate: $("consent-intimate").checked,
      share_hashes: $("consent-share").checked,
    };
  }

  function eligibilityNext() {
    const error = $("eligibility-error");
    const boxes = [$("consent-depicted"), $("consent-intimate"), $("consent-share")];
    if (!$("age-adult").checked && !$("age-minor").checked) {
      ui.i18n.setText(error, "elig.error.age");
      $("age-adult").focus();
    } else if ($("age-minor").checked) {
      ui.i18n.setText(error, "elig.error.minor");
      $("minor-note").querySelector("a").focus();
    } else if (boxes.some((box) => !box.checked)) {
      ui.i18n.setText(error, "elig.error.confirm");
      boxes.find((box) => !box.checked).focus();
    } else {
      ui.i18n.clear(error);
      show("files");
    }
  }

  function filesNext() {
    const problem = ui.files.problem();
    if (problem) {
      ui.i18n.setText($("files-error"), problem);
      return;
    }
    ui.i18n.clear($("files-error"));
    show("review");
  }

  function showStage(stage) {
    ui.i18n.setText($("engine-status"), STAGE_KEYS[stage] || STAGE_KEYS.idle);
    $("engine-progress").value = STAGE_PROGRESS[stage] || 0;
    $("engine").dataset.stage = stage;
    document.body.dataset.stage = stage;
  }

  async function start() {
    const select = $("lang");
    select.value = await ui.i18n.use(ui.i18n.pick(navigator.languages || [navigator.language]));
    select.addEventListener("change", () => ui.i18n.use(select.value));
    for (const el of document.querySelectorAll(".js-only")) el.hidden = false;
    ui.files.setUp();
    ui.review.setUp();
    ui.receipt.setUp();
    ui.status.setUp();
    for (const radio of document.querySelectorAll("input[name=age]")) {
      radio.addEventListener("change", () => ($("minor-note").hidden = !$("age-minor").checked));
    }
    $("eligibility-next").addEventListener("click", eligibilityNext);
    $("open-status").addEventListener("click", () => ui.openStatus());
    $("files-next").addEventListener("click", filesNext);
    for (const button of document.querySelectorAll("[data-back]")) {
      button.addEventListener("click", () => show(button.dataset.back));
    }
    window.localhash.onStage(showStage);
    show("eligibility", { focus: false });
    document.body.dataset.ready = "true"; // for tests: the flow is wired
  }

  Object.assign(ui, { show, consent, announce, forget: () => ui.files.forget() });
  document.addEventListener("DOMContentLoaded", start);
})();
