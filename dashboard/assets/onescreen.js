/* onescreen client helpers (no external URLs, no dependencies beyond Plotly and the Dash renderer).
 *  1. Live clock: every `.os-clock` / `.os-clock-date` shows Asia/Shanghai time, once a second.
 *  2. Wall scaling: Plotly figures inside `.os-wall` carrying layout.meta.base_font_size get
 *     font.size = base × (stage scale); maps with meta.bounds are fitted to that area in their own box (a GUI
 *     edit, so uirevision keeps it through later draws and new figures), older ones with only meta.base_zoom
 *     get zoom + log2(scale); marker sizes × scale. A 3840×2160 wall shows the same picture as 1920×1080 at
 *     native resolution, a 32:9 wall frames the area in its wider map.
 *  3. "Drawn" acknowledgement: after each plotly_afterplot of a live map, set the shell's live-drawn store
 *     ({n, t}; n counts every map draw of this page load) so the server can pace pushes by what the browser
 *     has actually drawn. The store reaches the server through a WebSocket callback, not a round trip.
 *  5. Stale watchdog: the server renews each `.os-live-dot`'s title at least once a second while the push
 *     channel lives; when it has not for STALE_MS of the page's own time (WebSocket down, server gone,
 *     reconnect attempts exhausted — not the page busy drawing), body gets `os-stale`, which shows the
 *     "feed lost" banner — never a silently frozen screen.
 *  4. Urgent pulse hook (opt-in: add class `os-pulse` to the page root): animates the circle opacity of
 *     traces whose `meta.pulse` is true directly on the MapLibre layer (no Plotly redraw, no afterplot).
 *  7. SLA countdowns: every `.os-countdown[data-deadline]` (epoch seconds; the incident detail's 办理时限) shows
 *     the time left or overdue, once a second, from its `data-left` / `data-over` / `data-days` templates
 *     (`{t}`, `{d}`), formatted like `layouts.components.fmt_countdown`.
 *  8. Work list (the officials' page): `dash_clientside.onescreen.flyTo` flies the map to a picked row's
 *     incident and rings it; `isFlight` tells the map-view store that relayout was no pan of the user's.
 *  6. Live map edits (the wall): `dash_clientside.onescreen.applyMapEdit` applies one edit of push.map_edit
 *     in place — the trace arrays in gd.data and the MapLibre GeoJSON sources Plotly made for them — instead
 *     of a Plotly re-plot, which re-clones the layout, recomputes every trace and re-uploads every source
 *     (members, grids) for one new marker. Repaints wait until every edited source is re-tiled, so an edit is
 *     one map frame; the "drawn" acknowledgement is sent then, as that frame starts.
 */
(function () {
  "use strict";
  var TZ = "Asia/Shanghai";
  var LIVE_MAPS = { "wall-map": true, "console-map": true }; // layouts/ids.py
  var ACK_STORE = "live-drawn"; // layouts/root.py
  var drawnCount = 0; // one counter per page load: a re-rendered map must not count from 0 again
  var fmtCache = {};

  function fmt(lang, opts) {
    var key = lang + JSON.stringify(opts);
    if (!fmtCache[key]) {
      fmtCache[key] = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", Object.assign({ timeZone: TZ }, opts));
    }
    return fmtCache[key];
  }

  function pad2(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function tickCountdowns(nowMs) {
    document.querySelectorAll(".os-countdown[data-deadline]").forEach(function (el) {
      var deadline = parseFloat(el.getAttribute("data-deadline"));
      if (!isFinite(deadline)) return;
      var left = deadline - nowMs / 1000;
      var s = Math.floor(Math.abs(left));
      var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
      var clock = h + ":" + pad2(m) + ":" + pad2(s % 60);
      if (d) clock = (el.getAttribute("data-days") || "{d}d").replace("{d}", String(d)) + " " + clock;
      var tpl = el.getAttribute(left >= 0 ? "data-left" : "data-over") || "{t}";
      var text = tpl.replace("{t}", clock);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("os-countdown--over", left < 0);
    });
  }

  function tickClock() {
    var now = new Date();
    tickCountdowns(now.getTime());
    document.querySelectorAll(".os-clock").forEach(function (el) {
      var lang = el.getAttribute("data-lang") || "zh";
      el.textContent = fmt(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(now);
    });
    document.querySelectorAll(".os-clock-date").forEach(function (el) {
      var lang = el.getAttribute("data-lang") || "zh";
      var d = fmt(lang, { year: "numeric", month: lang === "en" ? "2-digit" : "long", day: "2-digit", weekday: "short" }).format(now);
      el.textContent = d + (lang === "en" ? " · Beijing" : " 北京时间");
    });
  }

  // 1 design px in CSS px (the wall's --u): the stage is 1080 design px tall in both of its formats (16:9 on a
  // 1920-wide stage, 32:9 on a 3840-wide one: assets/onescreen.css), so its height says the scale.
  function stageScale() {
    var stage = document.querySelector(".os-wall .os-stage");
    var h = stage && stage.getBoundingClientRect().height;
    return h ? h / 1080 : Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
  }

  // True when it issued a relayout: the map must not be fitted until that is drawn (its afterplot comes back here),
  // or Plotly's map applies the zoom it held before the fit once the relayout lands (a 4K wall jumped back to the
  // 1080p zoom for a moment after each start-up).
  function scaleFonts(gd) {
    if (!window.Plotly || !gd.layout || !gd.closest || !gd.closest(".os-wall")) return false;
    var base = gd.layout.meta && gd.layout.meta.base_font_size;
    if (!base) return false;
    var want = Math.round(base * stageScale() * 10) / 10;
    var cur = gd.layout.font && gd.layout.font.size;
    if (cur && Math.abs(cur - want) <= 0.4) return false;
    window.Plotly.relayout(gd, { "font.size": want });
    return true;
  }

  function scaleAll(gd) {
    if (!scaleFonts(gd)) scaleMap(gd);
  }

  // MapLibre has fired its one "load" and Plotly's map creation has run on from it: Plotly records the view it
  // applied there (viewInitial) in the same step. Not MapLibre's loaded(): it flips back to false while a large
  // software-rendered canvas (a 4K wall) keeps repainting, which held a 4K wall at the 1080p zoom for seconds.
  function mapLoaded(sub) {
    return !!(sub && sub.map && sub.viewInitial && sub.map._loaded !== false);
  }

  // The wall's map is hidden until it shows its framed view (assets/onescreen.css: .os-framed): a 4K wall never
  // shows the figure's 1080p zoom first. Revealed on the first frame MapLibre renders after the fit, or after
  // REVEAL_MS whatever happened (a wall must never stay blank).
  var REVEAL_MS = 60000;
  function revealWhenDrawn(gd, map) {
    if (gd.classList.contains("os-framed") || gd._osRevealing) return;
    gd._osRevealing = true;
    var done = function () { gd.classList.add("os-framed"); };
    map.once("render", done);
    map.triggerRepaint();
  }

  function scaleMap(gd) {
    var meta = gd.layout && gd.layout.meta;
    if (!window.Plotly || !meta || meta.base_zoom === undefined || !gd.closest(".os-wall")) return;
    var sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    // Framed only once MapLibre has loaded and Plotly has applied its first view to it (mapLoaded). Before that,
    // Plotly's map creation still waits for MapLibre's load and then sets the figure's own center and zoom (the
    // 1080p zoom): a fit made earlier — after the afterplot of a font relayout that overtook the first draw — was
    // undone a moment later, and a 4K wall jumped back to the 1080p zoom. Retried on the next tick / afterplot.
    if (!sub || !sub.map || !gd._osAckN || !mapLoaded(sub)) return;
    var s = stageScale();
    lockMap(gd, sub.map);
    // marker sizes first: a restyle re-applies the layout's camera, which must not undo a fit made just before it
    var sizes = meta.marker_sizes || {};
    var idx = [], vals = [];
    Object.keys(sizes).forEach(function (k) {
      var i = +k, want = Math.round(sizes[k] * s * 10) / 10;
      var tr = gd.data[i];
      if (tr && tr.marker && Math.abs((tr.marker.size || 0) - want) > 0.05) { idx.push(i); vals.push(want); }
    });
    if (idx.length) {
      window.Plotly.restyle(gd, { "marker.size": vals }, idx);
      return; // its afterplot calls this again: fit then
    }
    var texts = meta.text_sizes || {};
    idx = []; vals = [];
    Object.keys(texts).forEach(function (k) {
      var i = +k, want = Math.round(texts[k] * s * 10) / 10, tr = gd.data[i];
      if (tr && tr.textfont && Math.abs((tr.textfont.size || 0) - want) > 0.05) { idx.push(i); vals.push(want); }
    });
    if (idx.length) {
      window.Plotly.restyle(gd, { "textfont.size": vals }, idx);
      return;
    }
    if (meta.bounds) {
      if (fitArea(gd, sub.map, meta.bounds)) revealWhenDrawn(gd, sub.map);
    } else {
      var zoom = Math.round((meta.base_zoom + Math.log2(s)) * 100) / 100;
      if (Math.abs(sub.map.getZoom() - zoom) > 0.02) window.Plotly.relayout(gd, { "map.zoom": zoom });
      else revealWhenDrawn(gd, sub.map);
    }
  }


  // The wall frames its area (layout.meta.bounds = [west, south, east, north]) in whatever box its map has: the
  // same geographic extent at 1920×1080 and 3840×2160 (one zoom level more), its own framing on a 32:9 wall.
  // MapLibre computes the camera for the box and jumps there as a user's move would (an `originalEvent` on the
  // move): Plotly's map then records the view as a GUI edit — gd.layout's center/zoom and _preGUI — so every later
  // Plotly draw keeps it, and the map's uirevision keeps it through a whole new figure from the server. A plain
  // relayout is undone by a new figure, and a MapLibre-only move by the next Plotly draw of any kind (its
  // updateLayout sets the layout's center and zoom again). No Plotly re-plot either way.
  var FIT_PADDING = 0.04; // of the box's width/height on each side: figures/incident_map.py fit_view's 0.92
  var LEGEND_MAX_COST = 0.15; // zoom levels the area may lose to stay clear of the legend

  // Kiosk: nobody uses a wall, and a stray touch or key must not move its map off the frame. The config already
  // turns off the modebar, scroll and double-click zoom (layouts/wall.py MAP_CONFIG); this turns off the rest.
  // Plotly enables dragPan again on every update of a "pan" map: the handlers' enable is made a no-op on the wall.
  function lockMap(gd, map) {
    if (map._osLocked) return;
    map._osLocked = true;
    ["dragPan", "dragRotate", "keyboard", "touchZoomRotate", "touchPitch", "scrollZoom", "boxZoom", "doubleClickZoom"]
      .forEach(function (h) {
        var handler = map[h];
        if (!handler || !handler.disable) return;
        handler.disable();
        handler.enable = function () {};
      });
  }

  // The HTML legend over the map's bottom-right corner should not hide part of the area: keep the area clear of it
  // beside it or above it, whichever leaves the larger zoom (a tall area on a wide 32:9 box moves left at no cost),
  // unless that costs more than LEGEND_MAX_COST zoom levels — then the legend covers a corner, as it always did.
  function legendPaddings(box, w, h) {
    var base = { left: w * FIT_PADDING, right: w * FIT_PADDING, top: h * FIT_PADDING, bottom: h * FIT_PADDING };
    var frame = box.closest(".os-frame");
    var legend = frame && frame.querySelector(".os-legend");
    var r = legend && legend.getBoundingClientRect();
    if (!r || !r.width) return [base];
    var fr = box.getBoundingClientRect();
    var beside = Object.assign({}, base, { right: Math.max(base.right, fr.right - r.left + base.right) });
    var above = Object.assign({}, base, { bottom: Math.max(base.bottom, fr.bottom - r.top + base.bottom) });
    return [base, beside, above].filter(function (p) { return p.left + p.right < w * 0.9 && p.top + p.bottom < h * 0.9; });
  }

  // True once the map's camera is the fitted one (jumped there now, or already there).
  function fitArea(gd, map, b) {
    var box = map.getContainer();
    var w = box.clientWidth, h = box.clientHeight;
    if (!w || !h) return false;
    // The canvas's CSS box follows the container at once; MapLibre's own size (its transform, what cameraForBounds
    // and getBounds use) only on resize(): compare with that, or a fit right after a screen change is made for the
    // old size and cut when Plotly resizes the map a moment later.
    var t = map.transform || {};
    var canvas = map.getCanvas();
    var mw = t.width || canvas.clientWidth, mh = t.height || canvas.clientHeight;
    if (Math.abs(mw - w) > 1 || Math.abs(mh - h) > 1) map.resize();
    var area = [[b[0], b[1]], [b[2], b[3]]];
    var pads = legendPaddings(box, w, h);
    var cam = map.cameraForBounds(area, { padding: pads[0] });
    if (!cam || !cam.center) return false;
    pads.slice(1).forEach(function (pad) {
      var c = map.cameraForBounds(area, { padding: pad });
      if (c && c.center && c.zoom >= cam.zoom - LEGEND_MAX_COST && (!cam.clear || c.zoom > cam.zoom)) {
        cam = c;
        cam.clear = true;
      }
    });
    var center = { lon: Math.round(cam.center.lng * 1e6) / 1e6, lat: Math.round(cam.center.lat * 1e6) / 1e6 };
    var zoom = Math.round(cam.zoom * 1000) / 1000;
    var lay = (gd.layout && gd.layout.map) || {};
    var now = lay.center || {};
    var same = Math.abs((lay.zoom || 0) - zoom) < 0.005 && Math.abs((now.lon || 0) - center.lon) < 1e-5 &&
      Math.abs((now.lat || 0) - center.lat) < 1e-5;
    var drawn = Math.abs(map.getZoom() - zoom) < 0.005;
    var jumps = (gd._osFitted && gd._osFitted.n) || 0;
    if (!(same && drawn)) {
      map.jumpTo({ center: [center.lon, center.lat], zoom: zoom }, { originalEvent: { type: "onescreen-fit" } });
      jumps += 1;
    }
    gd._osFitted = { zoom: zoom, w: w, h: h, n: jumps }; // the box the view was last fitted for (tests wait on it)
    return true;
  }

  // A resync request rides on every message until everything has come again: the draw acknowledgements write the
  // same store, and Dash hands a callback only the store's newest value — a one-off flag could be overwritten.
  var resyncWanted = null;

  function tellServer() {
    if (!window.dash_clientside || !window.dash_clientside.set_props) return;
    var data = { n: drawnCount, t: Date.now() };
    if (resyncWanted) data.resync = resyncWanted;
    window.dash_clientside.set_props(ACK_STORE, { data: data });
  }

  function ack(gd) {
    var host = gd.parentElement && gd.parentElement.closest("[id]");
    if (!host || !LIVE_MAPS[host.id]) return;
    gd._osAckN = (gd._osAckN || 0) + 1; // this map's own draws (tests wait on its first)
    drawnCount += 1;
    tellServer();
  }

  // ---- 6. live map edits ------------------------------------------------------------------------------
  var EDITED_MAP = "wall-map"; // the graph the wall-map-edit store's edits apply to (layouts/ids.py)
  var GRID_TRACE = 0; // figures/incident_map.py TRACE_GRIDS
  var pendingEdits = []; // edits that arrived before the map's first draw

  function mapOf(gd) {
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
  }

  function graphOf(id) {
    var host = document.getElementById(id);
    return host && host.querySelector(".js-plotly-plot");
  }

  function editArrays(tr, e) {
    var keys, j, k;
    if (e.set) { // single values by index (a district's changed count labels)
      Object.keys(e.set).forEach(function (key) {
        if (!Array.isArray(tr[key])) tr[key] = [];
        Object.keys(e.set[key]).forEach(function (i) { tr[key][+i] = e.set[key][i]; });
      });
      return;
    }
    if (e.replace) {
      Object.keys(e.replace).forEach(function (key) {
        if (!Array.isArray(tr[key])) tr[key] = [];
        tr[key].length = 0;
        Array.prototype.push.apply(tr[key], e.replace[key]);
      });
      return;
    }
    keys = Object.keys(e.add || {});
    (e["delete"] || []).forEach(function (i) {
      for (k = 0; k < keys.length; k++) if (Array.isArray(tr[keys[k]])) tr[keys[k]].splice(i, 1);
    });
    for (k = 0; k < keys.length; k++) {
      if (!Array.isArray(tr[keys[k]])) tr[keys[k]] = [];
      for (j = 0; j < e.add[keys[k]].length; j++) tr[keys[k]].push(e.add[keys[k]][j]);
    }
  }

  function pointsOf(tr, withText) {
    var features = [], lon = tr.lon || [], lat = tr.lat || [], n = Math.min(lon.length, lat.length);
    for (var i = 0; i < n; i++) {
      var props = withText ? { text: (tr.text || [])[i] || "" } : {};
      features.push({ type: "Feature", id: i + 1, geometry: { type: "Point", coordinates: [lon[i], lat[i]] }, properties: props });
    }
    return { type: "FeatureCollection", features: features };
  }

  function setTraceSource(gd, map, i) {
    var tr = gd.data[i], full = gd._fullData && gd._fullData[i];
    if (!tr || !full) return null;
    var text = !!(tr.meta && tr.meta.counts); // a district's open counts: Plotly's symbol source holds the text
    var id = "source-" + full.uid + (text ? "-symbol" : "-circle");
    var src = map.getSource(id);
    if (!src) return null;
    src.setData(pointsOf(tr, text));
    return id;
  }

  // One map frame per edit. MapLibre draws as soon as the first edited source is re-tiled, then again for each
  // later one: 2–3 frames per edit, and a wall drawing in software (no GPU; headless Chromium here) spends
  // 0.2–1 s per frame — most of the time between an event and its marker on screen under load (bench `live`).
  // Repaints are held from the first setData until every edited source is loaded again (at most HOLD_MS), then
  // the map draws once. Only the wall's live edits hold; nothing on the wall is interactive.
  var HOLD_MS = 500;

  function holdRepaints(map) {
    if (map._osHold) return map._osHold;
    var hold = (map._osHold = { ids: {}, wanted: false, timer: null, check: null });
    map.triggerRepaint = function () { hold.wanted = true; }; // shadows the prototype's until released
    return hold;
  }

  // `loaded` is called once the sources are loaded (or HOLD_MS passed), just before the frame that draws them.
  function releaseWhenLoaded(map, hold, ids, loaded) {
    ids.forEach(function (id) { if (id) hold.ids[id] = true; });
    hold.loaded = (hold.loaded || []).concat([loaded]);
    var release = function () {
      if (map._osHold !== hold) return;
      map._osHold = null;
      clearTimeout(hold.timer);
      map.off("sourcedata", hold.check);
      delete map.triggerRepaint;
      map.triggerRepaint();
      hold.loaded.forEach(function (fn) { fn(); });
    };
    if (hold.check) return; // an earlier edit's wait goes on, now for these sources too
    hold.check = function () {
      var all = Object.keys(hold.ids);
      for (var i = 0; i < all.length; i++) {
        var ok = true;
        try { ok = map.isSourceLoaded(all[i]) !== false; } catch (e) { ok = true; }
        if (!ok) return;
      }
      release();
    };
    hold.timer = setTimeout(release, HOLD_MS);
    map.on("sourcedata", hold.check);
    hold.check(); // nothing to wait for (no source changed)
  }

  function recolourGrids(gd, map, changed) {
    var full = gd._fullData && gd._fullData[GRID_TRACE];
    var src = full && map.getSource("source-" + full.uid);
    var colours = gd.layout.meta && gd.layout.meta.grid_colors;
    var data = src && src.serialize && src.serialize().data;
    if (!data || !data.features || !colours) return false;
    if (gd._osGridIndex === undefined || gd._osGridIndex.data !== data) {
      var byId = {};
      data.features.forEach(function (f) { byId[f.id] = f; });
      gd._osGridIndex = { data: data, byId: byId };
    }
    var tr = gd.data[GRID_TRACE];
    changed.forEach(function (i) {
      var f = gd._osGridIndex.byId[tr.locations[i]];
      if (f && colours[tr.z[i]]) f.properties.fc = colours[tr.z[i]];
    });
    src.setData(data);
    return "source-" + full.uid;
  }

  function applyEdit(gd, edit) {
    var map = mapOf(gd);
    var held = gd._osMapToken !== undefined ? gd._osMapToken : gd.layout.meta && gd.layout.meta.frame_token;
    if (edit.base !== null && edit.base !== held) {
      // this page does not hold what the edit was made for (a lost or merged edit): ask for everything again
      resyncWanted = edit.to;
      tellServer();
      return;
    }
    if (edit.base === null) resyncWanted = null; // everything came again
    var hold = holdRepaints(map), touched = [];
    Object.keys(edit.traces || {}).forEach(function (k) {
      var i = +k, tr = gd.data[i];
      if (!tr) return;
      editArrays(tr, edit.traces[k]);
      touched.push(setTraceSource(gd, map, i));
      gd._osEdited = gd._osEdited || {};
      gd._osEdited[i] = true;
    });
    if (edit.z) {
      var z = gd.data[GRID_TRACE].z, changed = [];
      if (edit.z.all) {
        z.length = 0;
        Array.prototype.push.apply(z, edit.z.all);
        for (var i = 0; i < z.length; i++) changed.push(i);
      } else {
        Object.keys(edit.z.set).forEach(function (k) { z[+k] = edit.z.set[k]; changed.push(+k); });
      }
      touched.push(recolourGrids(gd, map, changed) || null);
    }
    gd._osMapToken = edit.to;
    var done = false;
    var drawn = function () { if (!done) { done = true; ack(gd); } };
    // Acknowledged once MapLibre holds the edit (every edited source re-tiled), not after the frame that paints
    // it: the acknowledgement's trip to the server and the next edit's trip back (~0.3 s on a busy page) overlap
    // that frame instead of following it. Edits still never queue in the page: one is in flight at a time.
    releaseWhenLoaded(map, hold, touched, drawn);
    setTimeout(drawn, 1500); // a source that never reports loaded must not stall the live push
  }

  // Live edits change gd.data and the MapLibre sources in place, behind Plotly's back: its calcdata keeps the values
  // of the last full draw. Any later Plotly draw of the map (a restyle, a relayout that replots) puts those old values
  // back into the sources — grids in old colours, markers where they were. After every Plotly draw of an edited map
  // the sources are set from gd.data again.
  function reimposeEdits(gd) {
    var map = mapOf(gd);
    if (!map || !gd._osEdited || !gd.data) return;
    Object.keys(gd._osEdited).forEach(function (k) { setTraceSource(gd, map, +k); });
    var z = gd.data[GRID_TRACE] && gd.data[GRID_TRACE].z;
    if (z) recolourGrids(gd, map, z.map(function (_, k) { return k; }));
  }

  function flushEdits() {
    var keep = [];
    pendingEdits.forEach(function (p) {
      var gd = graphOf(p.graph);
      if (gd && gd._osAckN && mapOf(gd)) applyEdit(gd, p.edit);
      else keep.push(p);
    });
    pendingEdits = keep;
  }

  // ---- 8. the work list's row → map (callbacks/worklist.py) ----------------------------------------------
  // A picked row flies the officials' map to its incident: a MapLibre camera move carrying an `originalEvent`,
  // which Plotly records as the user's own view (gd.layout and _preGUI: kept by live patches and uirevision, as
  // fitArea's jump is). Its relayout is not a pan of the user's (isFlight: the console's map-view store ignores
  // it, so a flight never drills the page into a street). A ring marks the picked incident until another is.
  var WORK_MAP = "console-map"; // layouts/ids.py Console.MAP
  var RING = "os-selected-ring";
  var flight = null; // {lon, lat} of the last flight's target

  function ringData(sel) {
    var f = sel ? [{ type: "Feature", geometry: { type: "Point", coordinates: [sel.lon, sel.lat] }, properties: {} }] : [];
    return { type: "FeatureCollection", features: f };
  }

  function drawRing(gd) {
    var map = mapOf(gd);
    if (!map || !map.getStyle || !map.isStyleLoaded || !map.getStyle()) return;
    var sel = gd._osSelected || null;
    try {
      var src = map.getSource(RING);
      if (!src) {
        if (!sel) return;
        map.addSource(RING, { type: "geojson", data: ringData(sel) });
        map.addLayer({ id: RING, type: "circle", source: RING, paint: {
          "circle-radius": 14, "circle-color": "rgba(0,0,0,0)", "circle-stroke-width": 3,
          "circle-stroke-color": "#1c7ed6" } });
      } else {
        src.setData(ringData(sel));
        if (map.getLayer(RING)) map.moveLayer(RING); // on top of whatever a redraw added
      }
    } catch (e) {
      map.once("idle", function () { drawRing(gd); }); // the style was still loading
    }
  }

  function flyTo(fly) {
    var gd = graphOf(WORK_MAP), map = mapOf(gd);
    if (!fly || typeof fly.lon !== "number" || !map) return window.dash_clientside.no_update;
    var zoom = Math.max(map.getZoom(), fly.zoom || 16);
    flight = { lon: fly.lon, lat: fly.lat };
    gd._osSelected = { id: fly.id, lon: fly.lon, lat: fly.lat };
    drawRing(gd);
    map.easeTo({ center: [fly.lon, fly.lat], zoom: zoom, duration: 500 }, { originalEvent: { type: "onescreen-fly" } });
    return fly.id;
  }

  function isFlight(r) {
    var c = r && r["map.center"];
    return !!(flight && c && Math.abs(c.lon - flight.lon) < 1e-6 && Math.abs(c.lat - flight.lat) < 1e-6);
  }

  function markSelected(id) {
    var gd = graphOf(WORK_MAP);
    if (gd && gd._osSelected && gd._osSelected.id !== id) {
      gd._osSelected = null; // another incident picked on the map (or the detail closed): no ring
      drawRing(gd);
    }
    return window.dash_clientside.no_update;
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.onescreen = {
    applyMapEdit: function (edit) {
      if (edit) pendingEdits.push({ graph: EDITED_MAP, edit: edit });
      flushEdits();
    },
    flyTo: flyTo,
    isFlight: isFlight,
    markSelected: markSelected,
  };

  // ---- 7. clicks on the officials' map ------------------------------------------------------------------
  // Plotly answers a MapLibre click with plotly_click carrying the points of its last hover (gd._hoverdata); dcc.Graph
  // turns that into clickData (a click on a grid drills one level down: callbacks/console.py). Two clicks got lost:
  //  - one that comes while the map is redrawing (a live patch, a layer toggle): the redraw took the hover away and
  //    the pointer has not moved since, so Plotly has no points and emits nothing;
  //  - one that comes within Plotly's hover throttle (50 ms) of the pointer's last move: the hover of the new
  //    position is still pending, and the click carries the points of the previous one (a stale hover: the grid
  //    next door).
  // Every hover Plotly computes is counted against the pointer's moves (a hover is computed for the latest move),
  // so a click on a stale hover is known when it is emitted: it is held back. A click Plotly dropped or held back is
  // replayed once the map is idle: the pointer moved to the click's position (Plotly hovers there), then the click.
  // A replay that gets no hover in REPLAY_HOVER_MS lets a held-back click through as Plotly made it.
  var CLICK_MAPS = { "console-map": true }; // layouts/ids.py Console.MAP; the wall takes no clicks (kiosk)
  var REPLAY_TRIES = 4;
  var REPLAY_HOVER_MS = 400;
  var REPLAY_WITHIN_MS = 4000; // a click older than this is not replayed (the page may have moved on)

  function clickState(gd) {
    if (!gd._osClick) gd._osClick = { moves: 0, hoverMove: -1, emitted: null, replay: null, last: null };
    return gd._osClick;
  }

  // gd._hoverdata is written by every hover computation (points, or undefined for none); Plotly's purge deletes the
  // property, so this is re-installed on every attach tick.
  function trackHover(gd) {
    var d = Object.getOwnPropertyDescriptor(gd, "_hoverdata");
    if (d && d.get) return;
    var st = clickState(gd), value = d ? d.value : undefined;
    Object.defineProperty(gd, "_hoverdata", {
      configurable: true,
      enumerable: true,
      get: function () { return value; },
      set: function (v) { value = v; st.hoverMove = st.moves; },
    });
  }

  function wrapEmit(gd) {
    if (!gd.emit || gd.emit._osWrapped) return;
    var emit = gd.emit;
    var wrapped = function (name, data) {
      var st = gd._osClick;
      if (name === "plotly_click" && st && data && data.event) {
        var stale = st.hoverMove !== st.moves;
        st.emitted = { event: data.event, held: stale ? { self: this, args: arguments } : null };
        if (stale) return; // a stale hover: replayed (map click listener)
      }
      return emit.apply(this, arguments);
    };
    wrapped._osWrapped = true;
    wrapped._osRaw = emit;
    gd.emit = wrapped;
  }

  function fireMouse(el, type, x, y) {
    var r = el.getBoundingClientRect();
    el.dispatchEvent(new MouseEvent(type, {
      bubbles: true, cancelable: true, view: window, button: 0, buttons: type === "mousedown" ? 1 : 0,
      clientX: r.left + x, clientY: r.top + y,
    }));
  }

  function replayClick(gd, map) {
    var st = gd._osClick, rp = st && st.replay;
    if (!rp) return;
    if (Date.now() - rp.t > REPLAY_WITHIN_MS || rp.tries >= REPLAY_TRIES || mapOf(gd) !== map) {
      st.replay = null; // the page moved on (another map, too late) or the click keeps failing
      return;
    }
    if (map.isMoving() || !mapLoaded(gd._fullLayout.map._subplot)) {
      map.once("idle", function () { replayClick(gd, map); });
      return;
    }
    rp.tries += 1;
    var canvas = map.getCanvas(), movesBefore = st.moves;
    fireMouse(canvas, "mousemove", rp.x, rp.y);
    var started = Date.now();
    (function waitHover() {
      if (st.replay !== rp) return;
      if (st.hoverMove >= movesBefore + 1) {
        st.replay = null;
        if (!gd._hoverdata || !gd._hoverdata.length) return; // nothing under the click: nothing to replay
        st.last = rp; // a replayed click that fails again counts its tries on
        fireMouse(canvas, "mousedown", rp.x, rp.y);
        fireMouse(canvas, "mouseup", rp.x, rp.y);
        fireMouse(canvas, "click", rp.x, rp.y);
        return;
      }
      if (Date.now() - started < REPLAY_HOVER_MS) { setTimeout(waitHover, 20); return; }
      st.replay = null; // no hover came: let a held-back click through as Plotly made it
      if (rp.held && gd.emit._osRaw) gd.emit._osRaw.apply(rp.held.self, rp.held.args);
    })();
  }

  function hookClicks(gd) {
    var host = gd.parentElement && gd.parentElement.closest("[id]");
    var map = mapOf(gd);
    if (!host || !CLICK_MAPS[host.id] || !map) return;
    trackHover(gd);
    wrapEmit(gd);
    if (map._osClicks) return;
    map._osClicks = true;
    var st = clickState(gd);
    // capture phase on the canvas container: counted before MapLibre (and Plotly's hover behind it) see the move
    map.getCanvasContainer().addEventListener("mousemove", function () { st.moves += 1; }, true);
    map.on("click", function (e) {
      var ev = e.originalEvent, x = e.point.x, y = e.point.y;
      // after every listener of this click (Plotly's among them, in whatever order they were added)
      setTimeout(function () {
        var em = st.emitted, prev = st.last;
        st.emitted = null;
        st.last = null;
        if (em && em.event === ev && !em.held) return; // answered
        var again = !!prev && Math.abs(prev.x - x) < 1 && Math.abs(prev.y - y) < 1;
        st.replay = {
          x: x, y: y, t: again ? prev.t : Date.now(), held: em && em.event === ev ? em.held : null,
          tries: again ? prev.tries : 0,
        };
        replayClick(gd, map);
      }, 0);
    });
  }

  // Place names (figures/layers.py place_name_layers) get a halo in the background colour: Plotly's symbol layers
  // have no halo attribute, MapLibre's paint does (drawn into the locally made glyphs: nothing is fetched).
  // Map text gets a halo in the background colour (layout.meta.text_halo): the place names (layout layers) and a
  // district's open counts (the trace with meta.counts). Counts are always drawn: MapLibre would otherwise drop a
  // count whose box touches a name's, and a missing count reads as "nothing open".
  function setPaint(map, id, paint) {
    Object.keys(paint).forEach(function (prop) {
      if (map.getPaintProperty(id, prop) !== paint[prop]) map.setPaintProperty(id, prop, paint[prop]);
    });
  }

  function haloMapText(gd) {
    var halo = gd.layout && gd.layout.meta && gd.layout.meta.text_halo;
    var sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    var map = sub && sub.map;
    if (!halo || !map || !map.getStyle) return;
    try {
      paintMapText(gd, map, halo);
    } catch (e) {
      // Plotly's afterplot can come while MapLibre is still loading (a city's sources): setting a property then
      // throws, and live edits write MapLibre's sources without another afterplot — the counts stayed hidden
      // behind the names for good. Retried once the map is idle.
      if (!gd._osHaloWait) {
        gd._osHaloWait = true;
        map.once("idle", function () { gd._osHaloWait = false; haloMapText(gd); });
      }
    }
  }

  function paintMapText(gd, map, halo) {
    var counts = {};
    (gd._fullData || []).forEach(function (t) {
      if (t.meta && t.meta.counts) counts["plotly-trace-layer-" + t.uid + "-symbol"] = true;
    });
    (map.getStyle().layers || []).forEach(function (layer) {
      if (layer.type !== "symbol") return;
      if (counts[layer.id]) {
        setPaint(map, layer.id, halo);
        ["text-allow-overlap", "text-ignore-placement"].forEach(function (prop) {
          if (map.getLayoutProperty(layer.id, prop) !== true) map.setLayoutProperty(layer.id, prop, true);
        });
      } else if (layer.id.indexOf("plotly-layout-layer") === 0) setPaint(map, layer.id, halo);
    });
  }

  function attach() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      hookClicks(gd); // idempotent; the officials' map once it exists
      if (gd._osHooked) scaleMap(gd); // idempotent; catches the first MapLibre load
      if (gd._osHooked || !gd.on) return;
      gd._osHooked = true;
      if (gd.closest(".os-wall")) setTimeout(function () { gd.classList.add("os-framed"); }, REVEAL_MS);
      gd.on("plotly_afterplot", function () {
        ack(gd);
        if (pendingEdits.length) setTimeout(flushEdits, 0); // edits that came before the first draw
        // defer: a relayout/restyle issued inside afterplot is not applied to the MapLibre map
        setTimeout(function () {
          if (gd._osSelected) drawRing(gd);
          reimposeEdits(gd);
          scaleAll(gd);
          haloMapText(gd);
        }, 0);
      });
      scaleAll(gd);
    });
  }

  var pulseOn = false;
  function pulse() {
    if (!document.querySelector(".os-pulse")) return;
    pulseOn = !pulseOn;
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      var map = sub && sub.map;
      if (!map || !gd._fullData) return;
      gd._fullData.forEach(function (tr) {
        if (!tr.meta || !tr.meta.pulse) return;
        var layer = "plotly-trace-layer-" + tr.uid + "-circle";
        if (!map.getLayer(layer)) return;
        map.setPaintProperty(layer, "circle-opacity-transition", { duration: 550, delay: 0 });
        map.setPaintProperty(layer, "circle-opacity", pulseOn ? 0.95 : 0.25);
      });
    });
  }

  // The server's silence is counted in time the page could have heard it. While the page's own main thread is busy
  // (a 4K wall's first map draw in software rendering is one task of several seconds), heartbeats that arrived
  // wait in the task queue behind it, and this timer may run before them: wall-clock time since the last beat
  // then showed "feed lost" at a 4K start-up although the server never stopped. A tick that comes late counts
  // as one tick, not as the time the page was busy.
  var STALE_MS = 5000;
  var WATCH_MS = 1000;
  var lastBeat = { title: null, quiet: 0, tick: Date.now() };
  function watchdog() {
    var now = Date.now();
    var step = Math.min(now - lastBeat.tick, WATCH_MS);
    lastBeat.tick = now;
    var dot = document.querySelector(".os-live-dot");
    if (!dot) return;
    var title = dot.getAttribute("title");
    if (title !== lastBeat.title) {
      lastBeat.title = title;
      lastBeat.quiet = 0;
    } else {
      lastBeat.quiet += step;
    }
    document.body.classList.toggle("os-stale", lastBeat.quiet > STALE_MS);
  }

  window.addEventListener("resize", function () {
    document.querySelectorAll(".js-plotly-plot").forEach(scaleAll);
  });

  // A header menu (<details>, e.g. the 简报 menu) shuts on a click elsewhere and on Escape, as menus do.
  function shutMenus(except) {
    document.querySelectorAll("details.os-briefing[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (ev) {
    var inside = ev.target && ev.target.closest ? ev.target.closest("details.os-briefing") : null;
    shutMenus(inside);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") shutMenus(null);
  });
  setInterval(tickClock, 1000);
  setInterval(attach, 500);
  setInterval(pulse, 700);
  setInterval(watchdog, WATCH_MS);
  document.addEventListener("DOMContentLoaded", tickClock);
})();
