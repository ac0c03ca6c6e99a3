"""The in-page probe the screen measurements read (the Chromium launcher is ``tests.support.browser``).

The probe is an init script, so it is in place before the app's own scripts:

* ``SharedWorker`` is wrapped twice over. Inside the worker (started from a small blob script that wraps
  ``WebSocket`` and then ``importScripts`` the real worker): every frame the server sends, with its worker-side
  arrival time (not delayed by a busy page), its exact UTF-8 size and the component ids it sets → ``ws``.
  At the page: every message the worker posts to the page's port (``set_props``, ``set_props_batch``,
  ``get_props_request``, …), with its UTF-8 JSON size and component ids → ``msgs``.
* ``fetch`` is wrapped: every ``_dash-update-component`` response (the naive app's ticks) is recorded with its size.
* Every 10 ms (and on every mutation of the feed list) the page checks the incidents the bench is waiting for:
  the title in the feed → ``feed[id]``, the id in ``data[TRACE].customdata`` of the map → ``map[id]``, the first
  time after that MapLibre reports the map ``idle`` (every source loaded, the frame painted) → ``drawn[id]``; all
  ``Date.now()`` (epoch ms, same clock as the publisher). Not Plotly's ``plotly_afterplot``: our wall edits its
  map's sources in place, without a Plotly re-plot, and MapLibre's idle is when either app's marker is on screen.
* First render: ``fr`` = ``performance.now()`` (ms since navigation start) when the map's MapLibre instance
  reports ``loaded()`` and the page's KPI / feed element has content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.auth import track


@dataclass(frozen=True)
class PageProbe:
    """Where the probe looks on one app's page."""

    map_sel: str  # the map's .js-plotly-plot
    feed_sel: str
    ready_sel: str  # an element that must have text for "first full render" (KPI value / feed item)
    trace: int = 2  # the "reported" trace: new incidents land there


PROBE_JS = r"""
(() => {
  const CFG = __CFG__;
  const B = (window.__bench = {
    want: {}, feed: {}, map: {}, drawn: {}, msgs: [], ws: [], http: [], fr: null, hooked: null,
  });
  const enc = new TextEncoder();
  const size = (d) => { try { return enc.encode(JSON.stringify(d)).length; } catch (e) { return -1; } };
  // The WebSocket lives in Dash's SharedWorker: start that worker from a small wrapper script (a blob) that
  // wraps WebSocket inside the worker and reports every frame the server sends — its worker-side arrival time,
  // UTF-8 size and the components it sets — on a BroadcastChannel, then loads the real worker script.
  const WORKER_WRAP = (url) => `(() => {
    const bc = new BroadcastChannel('__bench_ws'); const enc = new TextEncoder(); const W = self.WebSocket;
    const size = (m) => { try { return enc.encode(JSON.stringify(m)).length; } catch (e) { return -1; } };
    self.WebSocket = function (u, p) {
      const ws = p === undefined ? new W(u) : new W(u, p);
      ws.addEventListener('message', (e) => {
        const t = Date.now(); const s = typeof e.data === 'string' ? e.data : '';
        let d = null; try { d = JSON.parse(s); } catch (err) {}
        const comps = {}; const types = [];
        for (const m of (Array.isArray(d) ? d : [d])) {
          if (!m) continue; types.push(m.type);
          if (m.type === 'set_props' && m.payload) {
            const c = m.payload.componentId; comps[c] = (comps[c] || 0) + size(m);
          }
        }
        bc.postMessage({t, n: enc.encode(s).length, comps, types});
      });
      return ws;
    };
    self.WebSocket.prototype = W.prototype;
    Object.assign(self.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  })(); importScripts(${JSON.stringify(url)});`;
  new BroadcastChannel('__bench_ws').onmessage = (e) => B.ws.push(e.data);
  const Orig = window.SharedWorker;
  if (Orig) {
    const Wrapped = function (url, opts) {
      let w;
      try {
        const abs = new URL(String(url), location.href).href;
        const blob = URL.createObjectURL(new Blob([WORKER_WRAP(abs)], {type: 'text/javascript'}));
        w = new Orig(blob, opts);
      } catch (err) {
        w = new Orig(url, opts);
      }
      w.port.addEventListener('message', (e) => {
        const d = e.data || {};
        const p = d.payload;
        const items = Array.isArray(p) ? p : (p && p.componentId ? [p] : []);
        const comps = {};
        for (const it of items) comps[it.componentId] = (comps[it.componentId] || 0) + size(it);
        B.msgs.push({t: Date.now(), type: d.type, n: size(d), comps});
      });
      return w;
    };
    Wrapped.prototype = Orig.prototype;
    window.SharedWorker = Wrapped;
  }
  const origFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    const pr = origFetch.apply(this, arguments);
    if (url.includes('_dash-update-component')) {
      pr.then((r) => r.clone().text().then((t) => B.http.push({t: Date.now(), n: enc.encode(t).length})))
        .catch(() => {});
    }
    return pr;
  };
  const gd = () => document.querySelector(CFG.map_sel);
  function check() {
    const now = Date.now();
    const g = gd();
    if (B.fr === null && g) {
      const m = g._fullLayout && g._fullLayout.map && g._fullLayout.map._subplot;
      const ready = document.querySelector(CFG.ready_sel);
      if (m && m.map && m.map.loaded() && ready && ready.textContent.trim()) B.fr = performance.now();
    }
    const lm = g && g._fullLayout && g._fullLayout.map && g._fullLayout.map._subplot && g._fullLayout.map._subplot.map;
    if (lm && B.hooked !== lm) {
      B.hooked = lm;
      lm.on('idle', () => {
        check();  // an id put into the data just before this idle counts as drawn by it
        const t = Date.now();
        for (const id of Object.keys(B.map)) if (!(id in B.drawn)) B.drawn[id] = t;
      });
    }
    const ids = Object.keys(B.want);
    if (!ids.length) return;
    let ft = null, cd = null;
    for (const id of ids) {
      if (!(id in B.feed)) {
        if (ft === null) { const f = document.querySelector(CFG.feed_sel); ft = f ? f.textContent : ''; }
        if (ft.includes(B.want[id])) B.feed[id] = now;
      }
      if (!(id in B.map)) {
        if (cd === null) {
          const tr = g && g.data && g.data[CFG.trace];
          cd = new Set((tr && tr.customdata) || []);
        }
        if (cd.has(id)) B.map[id] = now;
      }
      if (id in B.feed && id in B.map) delete B.want[id];
    }
  };
  setInterval(check, 10);
  let observed = null;
  setInterval(() => {
    const f = document.querySelector(CFG.feed_sel);
    if (f && f !== observed) {
      observed = f;
      new MutationObserver(check).observe(f, {childList: true, subtree: true, characterData: true});
    }
  }, 50);
})();
"""


def probe_script(probe: PageProbe) -> str:
    cfg = {"map_sel": probe.map_sel, "feed_sel": probe.feed_sel, "ready_sel": probe.ready_sel, "trace": probe.trace}
    return PROBE_JS.replace("__CFG__", json.dumps(cfg))


@contextmanager
def probed_page(browser: Any, probe: PageProbe, width: int = 1920, height: int = 1080) -> Iterator[Any]:
    context = track(browser.new_context(viewport={"width": width, "height": height}))  # the server's session
    try:
        context.add_init_script(probe_script(probe))
        yield context.new_page()
    finally:
        context.close()


def first_render_ms(page: Any, url: str, timeout_ms: float = 60_000) -> float:
    """Navigate and return navigation start → first full render, ms (see module doc)."""
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.__bench && window.__bench.fr !== null", timeout=timeout_ms, polling=50)
    return float(page.evaluate("() => window.__bench.fr"))
