// Step 2: the chosen files. Each gets a thumbnail (an object URL of the file itself, revoked when
// the file is removed), its own progress, and its own result or error in plain words. Files are
// read by the hashing worker on this device; nothing here sends anything.
(function () {
  "use strict";

  const ui = window.localhashUI;
  const ERROR_KEYS = {
    empty_file: "error.empty_file",
    unsupported_format: "error.unsupported_format",
    corrupt_image: "error.corrupt_image",
    corrupt_video: "error.corrupt_video",
    too_large: "error.too_large",
    too_small: "error.too_small",
    worker_crashed: "error.worker_crashed",
    worker_restarted: "error.worker_restarted",
    boot_failed: "error.boot_failed",
  };
  const entries = []; // {id, file, url, item, status: "pending" | "ok" | "error", record}
  let nextId = 1;
  let list, summary, picker;

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function thumbnail(entry) {
    const { setText } = ui.i18n;
    const placeholder = () => {
      const box = element("span", "thumb placeholder");
      box.setAttribute("aria-hidden", "true");
      if (entry.file.type.startsWith("video/")) setText(box, "files.video");
      return box;
    };
    if (!entry.file.type.startsWith("image/")) return placeholder();
    entry.url = URL.createObjectURL(entry.file); // a local reference to the file: never uploaded
    const img = element("img", "thumb");
    img.alt = "";
    img.decoding = "async";
    img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
    img.src = entry.url;
    return img;
  }

  function render(entry) {
    const { setText, setLabel } = ui.i18n;
    const item = element("li", "result pending");
    const name = element("span", "name", entry.file.name); // shown here only; never sent
    name.id = `file-name-${entry.id}`;
    const status = element("span", "status");
    setText(status, "files.waiting");
    const progress = element("progress");
    progress.max = 100;
    progress.value = 0;
    setLabel(progress, "files.progress.label", { name: entry.file.name });
    const remove = element("button", "small remove");
    remove.type = "button";
    setText(remove, "files.remove");
    setLabel(remove, "files.remove.label", { name: entry.file.name });
    remove.addEventListener("click", () => removeEntry(entry));
    const text = element("div", "text");
    text.append(name, status, progress);
    item.append(thumbnail(entry), text, remove);
    Object.assign(entry, { item, status, progress });
    return item;
  }

  // Why a video has no picture-based fingerprint (its record's vpdq_error, web/MESSAGES.md), in plain words.
  const NO_VPDQ_KEYS = {
    unsupported_codec: "files.done.video.unsupported_codec",
    unsupported_container: "files.done.video.unsupported_container",
    no_webcodecs: "files.done.video.no_webcodecs",
    not_decoded: "files.done.video.not_decoded",
    pixels_implausible: "files.done.video.pixels_implausible",
    pixels_differ: "files.done.video.pixels_differ",
    demuxer_not_loaded: "files.done.video.demuxer_not_loaded",
    video_stalled: "files.done.video.video_stalled",
  };

  // `unit`: "bytes" while the file is read, "seconds" of video while its frames are decoded.
  function showProgress(entry, done, total, unit) {
    if (entry.removed || entry.state !== "pending") return;
    const percent = Math.floor((100 * done) / Math.max(total, 1));
    entry.progress.value = percent;
    if (unit === "seconds") ui.i18n.setText(entry.status, "files.working.video", { done, total });
    else ui.i18n.setText(entry.status, "files.working", { percent });
  }

  function doneKey(record) {
    if (record.media !== "video") return "files.done.image";
    if (record.vpdq) return "files.done.video.vpdq";
    if (record.vpdq_error) return NO_VPDQ_KEYS[record.vpdq_error.code] || "files.done.video.no_vpdq";
    return "files.done.video";
  }

  function finish(entry, record) {
    if (entry.removed) return;
    entry.record = record;
    entry.state = record.ok ? "ok" : "error";
    entry.item.classList.remove("pending");
    entry.item.classList.add(entry.state);
    entry.item.dataset.record = JSON.stringify(record);
    entry.progress.remove();
    if (record.ok) {
      ui.i18n.setText(entry.status, doneKey(record));
    } else {
      ui.i18n.setText(entry.status, ERROR_KEYS[record.error?.code] || "error.other");
    }
    summarize();
  }

  function add(fileList) {
    for (const file of fileList) {
      const entry = { id: nextId++, file, url: null, state: "pending", record: null, removed: false, abort: new AbortController() };
      entries.push(entry);
      list.append(render(entry));
      // Dihedral hashes are always made (they come from the same DCT, at little cost), so the
      // review's "mirrored and rotated" box needs no second pass.
      window.localhash
        .hashFile(file, { dihedral: true, signal: entry.abort.signal, onProgress: (done, total, unit) => showProgress(entry, done, total, unit) })
        .then((record) => finish(entry, record));
    }
    summarize();
  }

  function removeEntry(entry) {
    const index = entries.indexOf(entry);
    if (index < 0) return;
    entry.removed = true;
    entry.abort.abort(); // a video still being hashed stops
    if (entry.url) URL.revokeObjectURL(entry.url);
    entry.url = null;
    entries.splice(index, 1);
    entry.item.remove();
    ui.announce("files.removed", { name: entry.file.name });
    // Keep the keyboard where it was: on the next file's Remove button, else the picker.
    const next = entries[index] || entries[index - 1];
    (next ? next.item.querySelector("button.remove") : picker).focus();
    summarize();
  }

  function summarize() {
    const ready = entries.filter((e) => e.state === "ok").length;
    if (entries.length) ui.i18n.setText(summary, "files.count", { ready, total: entries.length });
    else ui.i18n.setText(summary, "files.none");
  }

  // The key of what stops the person from going on, or null.
  function problem() {
    if (entries.some((e) => e.state === "pending")) return "files.error.pending";
    if (!entries.some((e) => e.state === "ok")) return "files.error.none";
    return null;
  }

  function setUp() {
    list = document.getElementById("results");
    summary = document.getElementById("files-summary");
    picker = document.getElementById("files");
    picker.addEventListener("change", () => {
      add(picker.files);
      picker.value = "";
    });
    const zone = document.getElementById("drop-zone");
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer?.files?.length) add(event.dataTransfer.files);
    });
    // A file dropped anywhere else must not make the browser open it in place of the page.
    for (const type of ["dragover", "drop"]) document.addEventListener(type, (event) => event.preventDefault());
  }

  // The review's "copies apps make": each picture without variants is hashed again, with them. The
  // new record replaces the old only when it is of the same picture (equal PDQ and digests: the file
  // is read again, and one changed meanwhile must not slip in); otherwise the old record stays and
  // the entry says its variants failed. onProgress(done, total) follows the pictures.
  async function makeVariants(onProgress) {
    const wanted = (e) => e.state === "ok" && e.record.media !== "video" && !e.record.pdq_variants && !e.variantsFailed;
    const todo = entries.filter(wanted);
    let done = 0;
    onProgress(done, todo.length);
    await Promise.all(
      todo.map(async (entry) => {
        let record = null;
        try {
          record = await window.localhash.hashFile(entry.file, { dihedral: true, variants: true });
        } catch {
          record = null; // the worker failed: the entry keeps its record
        }
        const same = record?.ok && ["pdq", "pdq_oriented", "md5", "sha256"].every((k) => record[k] === entry.record[k]);
        if (same && record.pdq_variants) {
          entry.record = record;
          entry.item.dataset.record = JSON.stringify(record);
        } else {
          entry.variantsFailed = true;
        }
        onProgress(++done, todo.length);
      }),
    );
  }

  ui.files = {
    setUp,
    add,
    problem,
    makeVariants,
    ready: () => entries.filter((e) => e.state === "ok"),
    all: () => entries.slice(),
    forget() {
      for (const entry of entries) if (entry.url) URL.revokeObjectURL(entry.url);
    },
  };
})();
