/* onescreen access (dashboard/access): when the server says this page's credential is gone, load the page again so
 * the gate answers with the login page — never a silently frozen screen.
 *  - any of the page's own requests answered 401 (a callback after a logout, a disabled account, a revoked wall
 *    link, a session past its idle or absolute end);
 *  - the live push went quiet (body.os-stale, onescreen.js): the gate closes a WebSocket whose credential is gone,
 *    and Dash's shared worker that holds it cannot tell the page why, so ask: a HEAD of this page, every
 *    CHECK_MS while quiet (a 401 reloads; anything else — Redis or the server away — leaves the "feed lost" banner).
 * At most one reload per RELOAD_GAP_MS (never a reload loop).
 */
(function () {
  "use strict";
  var RELOAD_GAP_MS = 15000;
  var CHECK_MS = 5000;
  var KEY = "onescreen.access.reloaded";
  var leaving = false;

  function reload() {
    if (leaving) { return; }
    var last = Number(window.sessionStorage.getItem(KEY) || 0);
    if (Date.now() - last < RELOAD_GAP_MS) { return; }
    leaving = true;
    window.sessionStorage.setItem(KEY, String(Date.now()));
    window.location.reload();
  }

  var origFetch = window.fetch;
  if (!origFetch) { return; }
  window.fetch = function () {
    return origFetch.apply(this, arguments).then(function (resp) {
      if (resp.status === 401) { reload(); }
      return resp;
    });
  };

  function checkWhileQuiet() {
    if (document.body && document.body.classList.contains("os-stale")) {
      window.fetch(window.location.pathname + window.location.search, { method: "HEAD", cache: "no-store" })
        .catch(function () { /* server away: the banner says so */ });
    }
  }
  window.setInterval(checkWhileQuiet, CHECK_MS);
})();
