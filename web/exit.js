// Quick exit, as on victim-support sites: the button (a plain link without JavaScript) or the Esc
// key pressed twice replaces this page with a neutral one. location.replace takes this page's
// place in the history, and the flow never adds entries of its own, so Back does not lead into it.
// Loaded first, so that it works while everything else is still loading.
(function () {
  "use strict";

  const ESCAPE_TWICE_MS = 1500; // two presses of Esc within this time leave the page
  const link = document.getElementById("quick-exit");
  let lastEscape = -Infinity;

  function quickExit(event) {
    if (event) event.preventDefault();
    document.body.hidden = true; // nothing of the flow stays on screen while the next page loads
    document.title = "";
    try {
      window.localhashUI?.forget?.(); // thumbnails' object URLs
    } catch {
      // leaving matters more than tidying up
    }
    history.replaceState(null, "", location.pathname); // drop any #fragment from the entry being replaced
    location.replace(link.href);
  }

  link.addEventListener("click", quickExit);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const now = performance.now();
    if (now - lastEscape < ESCAPE_TWICE_MS) quickExit(event);
    else lastEscape = now;
  });
  window.localhashUI = Object.assign(window.localhashUI || {}, { quickExit });
})();
