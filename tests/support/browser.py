"""The headless Chromium every browser test and the bench drive (Playwright's sync API, the system's chromium —
never a downloaded browser), and the waits that say a screen is live.

Playwright is imported inside the functions: importing this module needs no browser stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

# The map's first draw is done once onescreen.js has counted a plotly_afterplot (Plotly resolves a map draw only
# after MapLibre reported loaded). MapLibre's own loaded() can flip back to false while it keeps repainting a
# large software-rendered canvas (a 4K wall), so it is no condition to wait on.
FIRST_DRAW_JS = "() => { const gd = document.querySelector('.js-plotly-plot'); return !!(gd && gd._osAckN >= 1); }"
# The map has drawn what it holds: MapLibre reports every source loaded and no camera movement (state, not a
# pause). Wait on it before aiming the mouse at a marker.
MAP_IDLE_JS = """(sel) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
  const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  const m = sub && sub.map; return !!(m && m.loaded() && !m.isMoving()); }"""

# What MapLibre was given equals what the figure's data says (the wall edits its map sources in place, not through
# a Plotly re-plot: assets/onescreen.js). Returns a list of mismatches, [] when every marker source holds exactly
# its trace's points and every grid polygon is filled with the colour of its grid's state.
MAP_SOURCES_MATCH_JS = """(sel) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
  const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  const m = sub && sub.map; if (!m) return ['no map'];
  const bad = []; const colours = gd.layout.meta.grid_colors;
  const rgb = (c) => { c = String(c).replace(/\\s/g, '').toLowerCase(); if (!c.startsWith('#')) return c;
    const n = parseInt(c.slice(1), 16); return 'rgb(' + [n >> 16, (n >> 8) & 255, n & 255].join(',') + ')'; };
  gd._fullData.forEach((full, i) => {
    const tr = gd.data[i];
    if (i === 0) {
      const feats = m.getSource('source-' + full.uid).serialize().data.features;
      const fc = {}; feats.forEach((f) => { fc[f.id] = f.properties.fc; });
      tr.locations.forEach((loc, j) => {
        const want = rgb(colours[tr.z[j]]), got = rgb(fc[loc]);
        if (want !== got) bad.push(loc + ': drawn ' + got + ', state ' + tr.z[j]);
      });
      return;
    }
    const src = m.getSource('source-' + full.uid + '-circle');
    if (!src || full.visible !== true || i === 1) return;
    const pts = src.serialize().data.features.map((f) => f.geometry.coordinates.join(','));
    const want = (tr.lon || []).map((x, j) => x + ',' + tr.lat[j]);
    if (pts.join(';') !== want.join(';')) {
      bad.push('trace ' + i + ': ' + pts.length + ' drawn, ' + want.length + ' in data');
    }
  });
  return bad; }"""


def require_chromium() -> str:
    """The Chromium executable's path; ``RuntimeError`` naming it and how to install it when it is missing."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} missing: run `make test` (it installs chromium) or `apt install chromium`")
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``) for the block; closed afterwards."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_live(page: Any, timeout_ms: int = 30_000) -> None:
    """Until the server has marked the push channel live and the map has been drawn once (Playwright ``Page``;
    Playwright's ``TimeoutError`` after ``timeout_ms``)."""
    page.wait_for_selector(".os-live-dot.is-live", state="attached", timeout=timeout_ms)
    page.wait_for_function(FIRST_DRAW_JS, timeout=timeout_ms)


def wait_text(page: Any, element_id: str, want: str, timeout_ms: int) -> None:
    """Until the element ``element_id`` shows exactly ``want`` (its ``innerText``, trimmed): a KPI tile, a count
    (Playwright's ``TimeoutError`` after ``timeout_ms``)."""
    page.wait_for_function(
        "(a) => { const el = document.getElementById(a.id); return !!el && el.innerText.trim() === a.want; }",
        arg={"id": element_id, "want": want},
        timeout=timeout_ms,
    )


def click_map_until(page: Any, map_id: str, lon: float, lat: float, done_js: str, arg: Any, timeout_ms: int) -> None:
    """Click the Plotly map in ``#map_id`` at (``lon``, ``lat``) once, as an official does, and wait until
    ``done_js(arg)`` holds in the page.

    The pointer rests there until Plotly hovers, then clicks. One click: a click that lands while Plotly re-plots the
    map (a live patch) or on a stale hover is replayed by the page itself (assets/onescreen.js), so it is never
    clicked again here. ``AssertionError`` naming the page's URL when it is not answered in ``timeout_ms``."""
    graph = f"document.querySelector('#{map_id} .js-plotly-plot')"
    page.wait_for_function(MAP_IDLE_JS, arg="#" + map_id, timeout=timeout_ms)
    xy = page.evaluate(
        f"""(ll) => {{ const map = {graph}._fullLayout.map._subplot.map; const p = map.project(ll);
            const r = map.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""",
        [float(lon), float(lat)],
    )
    page.mouse.move(xy[0], xy[1])  # Plotly clicks what the pointer hovers: hover first, as a hand does
    page.locator(f"#{map_id} .hoverlayer .hovertext").first.wait_for(timeout=timeout_ms)
    page.mouse.click(xy[0], xy[1])
    try:
        page.wait_for_function(done_js, arg=arg, timeout=timeout_ms)
    except Exception as exc:
        raise AssertionError(f"a click at {lon}, {lat} was not answered: url {page.url}") from exc
