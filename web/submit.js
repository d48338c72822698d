// The submission shim: the ONLY code that sends anything over the network after the site has
// loaded. It posts JSON to the endpoint named in config.json, and the JSON is rebuilt here from an
// allow-list: for each hash its type, value and (PDQ) quality and kind (a video's vPDQ: its list of
// "hex,quality,timestamp" frames); the PIN and the four consents the person gave. Nothing else from a
// record (no filename, size, dimensions or EXIF) can pass.
(function () {
  "use strict";

  const HASH_FORMATS = { pdq: /^[0-9a-f]{64}$/, md5: /^[0-9a-f]{32}$/, sha256: /^[0-9a-f]{64}$/ };
  // One vPDQ frame as python-threatexchange writes it (py/localhash/vpdq.py): PDQ hex, quality 0-100, and its
  // time in seconds printed with three significant digits ("0.0", "12.3", "1.23e+02"); at most six hours
  // of one frame a second, as the bank takes (py/hashbank/validation.py MAX_VPDQ_FRAMES).
  const VPDQ_FRAME = /^[0-9a-f]{64},(?:100|[1-9]?[0-9]),(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[+-][0-9]+)?$/;
  const MAX_VPDQ_FRAMES = 6 * 3600;
  const CONSENTS = ["adult", "depicted", "intimate", "share_hashes"];
  // What a PDQ hash is of, in localhash's names (py/localhash/match.py KINDS; the bank checks the list).
  const KIND = /^[a-z][a-z0-9_]{0,31}$/;

  function allowListedVpdq(frames) {
    if (!Array.isArray(frames) || !frames.length || frames.length > MAX_VPDQ_FRAMES) throw new TypeError("not a valid vpdq hash");
    const value = frames.map((frame) => String(frame).toLowerCase());
    if (!value.every((frame) => VPDQ_FRAME.test(frame))) throw new TypeError("not a valid vpdq hash");
    return { type: "vpdq", value };
  }

  function allowListedHash(hash) {
    const type = String(hash.type);
    if (type === "vpdq") return allowListedVpdq(hash.value);
    const value = String(hash.value).toLowerCase();
    if (!HASH_FORMATS[type] || !HASH_FORMATS[type].test(value)) throw new TypeError(`not a valid ${type} hash`);
    const clean = { type, value };
    if (type === "pdq" && Number.isInteger(hash.quality) && hash.quality >= 0 && hash.quality <= 100) clean.quality = hash.quality;
    if (type === "pdq" && typeof hash.kind === "string" && KIND.test(hash.kind)) clean.kind = hash.kind;
    return clean;
  }

  function buildCaseBody(body) {
    const clean = { hashes: (body.hashes || []).map(allowListedHash) };
    if (body.pin !== undefined) clean.pin = String(body.pin);
    if (body.consent !== undefined) clean.consent = Object.fromEntries(CONSENTS.map((k) => [k, body.consent[k] === true]));
    return clean;
  }

  // The hashes of one record, in the shape buildCaseBody accepts, each saying what it is of (kind).
  // dihedral: the 7 mirrored and rotated copies: hashes of the really turned pixels (pdq_turned) when
  // the record has them (made with the variants), else Meta's derived ones (pdq_dihedral, made with
  // every picture at no extra cost). variants: the picture as apps frame it (pdq_variants). A video's vPDQ
  // (the picture-based fingerprint, when the browser could make it) is always sent: it is what recognises
  // a re-encoded or trimmed copy, where MD5 and SHA-256 recognise only the file itself.
  function hashesOf(record, { dihedral = false, variants = false } = {}) {
    if (!record || !record.ok) return [];
    const out = [];
    const pdq = (value, quality, kind) => out.push({ type: "pdq", value, quality, kind });
    if (record.pdq) pdq(record.pdq, record.pdq_quality, "original");
    if (record.pdq_oriented) pdq(record.pdq_oriented, record.pdq_quality, "oriented");
    if (dihedral && record.pdq_turned && Object.keys(record.pdq_turned).length) {
      for (const [name, turned] of Object.entries(record.pdq_turned)) pdq(turned.hash, turned.quality, name);
    } else if (dihedral && record.pdq_dihedral) {
      for (const [name, value] of Object.entries(record.pdq_dihedral)) pdq(value, record.pdq_quality, name);
    }
    if (variants && record.pdq_variants) {
      for (const [name, framed] of Object.entries(record.pdq_variants)) pdq(framed.hash, framed.quality, name);
    }
    if (Array.isArray(record.vpdq) && record.vpdq.length) out.push({ type: "vpdq", value: record.vpdq });
    out.push({ type: "md5", value: record.md5 }, { type: "sha256", value: record.sha256 });
    const seen = new Set();
    return out.filter((h) => !seen.has(hashKey(h)) && seen.add(hashKey(h)));
  }

  // What makes two hashes the same one (a vPDQ's value is its list of frames).
  function hashKey(hash) {
    return `${hash.type}:${Array.isArray(hash.value) ? hash.value.join(";") : hash.value}`;
  }

  // The SHA-256 the bank names a vPDQ by (hex): of its frames in JSON as python-threatexchange's
  // vpdq_to_json writes them (Python's json.dumps: ", " between items), so a receipt shows what the
  // case's status shows.
  async function vpdqDigest(frames) {
    const text = `[${frames.map((frame) => JSON.stringify(frame)).join(", ")}]`;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let config = null;
  async function endpoint() {
    if (!config) {
      const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store", credentials: "omit" });
      config = await response.json();
    }
    return new URL(config.endpoint, document.baseURI);
  }

  async function post(path, body, headers = {}) {
    const response = await fetch(new URL(path, await endpoint()), {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
      credentials: "omit",
      referrerPolicy: "no-referrer",
      cache: "no-store",
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = { error: { code: "bad_response", message: `the server answered ${response.status} without JSON` } };
    }
    return { status: response.status, ok: response.ok, body: answer };
  }

  window.localhash = Object.assign(window.localhash || {}, {
    buildCaseBody,
    hashesOf,
    hashKey,
    vpdqDigest,
    // POST {endpoint}v1/cases; a retry with the same idempotencyKey never creates a second case.
    submit: (body, { idempotencyKey } = {}) =>
      post("v1/cases", buildCaseBody(body), idempotencyKey ? { "Idempotency-Key": String(idempotencyKey) } : {}),
    caseStatus: (caseNumber, pin) => post(`v1/cases/${encodeURIComponent(caseNumber)}/status`, { pin: String(pin) }),
    withdrawCase: (caseNumber, pin) => post(`v1/cases/${encodeURIComponent(caseNumber)}/withdraw`, { pin: String(pin) }),
  });
})();
