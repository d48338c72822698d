// The page: shows the worker's loading stage and one result per chosen file.
// Everything happens on this device; nothing is sent from here (see submit.js for what is).
(function () {
  "use strict";

  const STAGES = {
    idle: "Preparing the fingerprint tool on this device…",
    runtime: "Loading the fingerprint tool (1 of 3)…",
    packages: "Loading the fingerprint tool (2 of 3)…",
    localhash: "Loading the fingerprint tool (3 of 3)…",
    ready: "The fingerprint tool is ready. Your files stay on this device.",
    failed: "The fingerprint tool could not start in this browser.",
  };
  const ERRORS = {
    empty_file: "This file is empty.",
    unsupported_format: "This file is not a picture we can read.",
    corrupt_image: "This picture is damaged or incomplete.",
    too_large: "This picture is too large to fingerprint on this device.",
    too_small: "This picture is too small to fingerprint.",
    worker_crashed: "This file could not be fingerprinted on this device.",
  };

  function resultItem(file) {
    const item = document.createElement("li");
    item.className = "result pending";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name; // shown locally only; never sent
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = "Waiting…";
    item.append(name, " ", status);
    return { item, status };
  }

  function show(record, view) {
    view.item.classList.remove("pending");
    view.item.classList.add(record.ok ? "ok" : "error");
    view.item.dataset.record = JSON.stringify(record);
    if (!record.ok) {
      view.status.textContent = ERRORS[record.error.code] || "This file could not be fingerprinted.";
      return;
    }
    view.status.textContent = record.media === "video" ? "Fingerprinted (video)." : "Fingerprinted.";
    const hashes = document.createElement("code");
    hashes.textContent = record.pdq ? `PDQ ${record.pdq}` : `MD5 ${record.md5}`;
    view.item.append(document.createElement("br"), hashes);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const statusLine = document.getElementById("engine-status");
    window.localhash.onStage((stage) => {
      statusLine.textContent = STAGES[stage] || STAGES.idle;
      document.body.dataset.stage = stage;
    });
    const input = document.getElementById("files");
    const list = document.getElementById("results");
    input.addEventListener("change", () => {
      for (const file of input.files) {
        const view = resultItem(file);
        list.append(view.item);
        window.localhash
          .hashFile(file, {
            onProgress: (done, total) => {
              view.status.textContent = `Working… ${Math.floor((100 * done) / Math.max(total, 1))}%`;
            },
          })
          .then((record) => show(record, view));
      }
      input.value = "";
    });
  });
})();
