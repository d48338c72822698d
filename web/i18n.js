// Languages: every string the page shows comes from i18n/<lang>.json (one file per language).
// index.html carries the English text inline, for the first paint and for reading without
// JavaScript; tests/flow/test_i18n.py checks that it equals en.json and that no key is missing
// or unused. An element whose text comes from a key keeps the key (data-i18n, its values in
// data-i18n-vars), so switching the language re-translates the page without touching its state.
(function () {
  "use strict";

  const ui = (window.localhashUI = window.localhashUI || {});
  const SUPPORTED = ["en", "nl", "fr", "de"];
  const files = new Map(); // lang -> Promise of its strings
  const listeners = new Set();
  let lang = "en";
  let strings = {};
  let switching = 0;

  // The first of the browser's languages we have, by its primary subtag ("nl-BE" -> "nl").
  function pick(languages) {
    for (const tag of languages || []) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (SUPPORTED.includes(base)) return base;
    }
    return "en";
  }

  function load(code) {
    if (!files.has(code)) {
      const url = new URL(`i18n/${code}.json`, document.baseURI);
      const request = fetch(url, { credentials: "omit", cache: "no-cache" }).then((response) => {
        if (!response.ok) throw new Error(`${url}: ${response.status}`);
        return response.json();
      });
      request.catch(() => files.delete(code)); // a later switch tries again
      files.set(code, request);
    }
    return files.get(code);
  }

  function formatValue(name, value) {
    if (name === "date" && value) {
      return new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short" }).format(new Date(value));
    }
    if (typeof value === "number") return new Intl.NumberFormat(lang).format(value);
    return String(value);
  }

  // The text of `key` in the current language, with {name} replaced by vars[name].
  function t(key, vars = {}) {
    const template = strings[key];
    if (template === undefined) return key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? formatValue(name, vars[name]) : whole));
  }

  function varsOf(el) {
    return el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {};
  }

  function remember(el, vars) {
    if (vars && Object.keys(vars).length) el.dataset.i18nVars = JSON.stringify(vars);
    else delete el.dataset.i18nVars;
  }

  // Give `el` the text of `key`, and keep the key so that a language switch re-translates it.
  function setText(el, key, vars) {
    el.dataset.i18n = key;
    remember(el, vars);
    el.textContent = t(key, vars);
  }

  // The same for an accessible name (aria-label).
  function setLabel(el, key, vars) {
    el.dataset.i18nLabel = key;
    remember(el, vars);
    el.setAttribute("aria-label", t(key, vars));
  }

  function clear(el) {
    delete el.dataset.i18n;
    delete el.dataset.i18nVars;
    el.textContent = "";
  }

  function apply(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n, varsOf(el));
    for (const el of root.querySelectorAll("[data-i18n-label]")) {
      el.setAttribute("aria-label", t(el.dataset.i18nLabel, varsOf(el)));
    }
  }

  // Switch to `code` (falling back to English when its file cannot be loaded).
  async function use(code) {
    const mine = ++switching;
    code = SUPPORTED.includes(code) ? code : "en";
    let loaded;
    try {
      loaded = await load(code);
    } catch {
      code = "en";
      loaded = await load("en").catch(() => strings);
    }
    if (mine !== switching) return lang; // a later switch won
    strings = loaded;
    lang = code;
    document.documentElement.lang = code;
    apply();
    for (const listener of listeners) listener(code);
    return code;
  }

  ui.i18n = {
    SUPPORTED,
    pick,
    use,
    t,
    setText,
    setLabel,
    clear,
    onChange: (listener) => listeners.add(listener),
    get lang() {
      return lang;
    },
  };
})();
