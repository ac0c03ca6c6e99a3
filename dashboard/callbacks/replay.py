"""Time on screen: the officials' scrubber. Thin: the rebuild is ``dashboard.replay`` (``situation_at`` over a warm
log timeline), the frame ``frames.screen_frame``, the page updates ``push.step`` — what a live push would send.

- ``replay_reach`` (on render and every minute): the slider's reach (``Replay.reach``) and its tick labels;
- the controller (client side): a drag (the page follows the thumb, a step at most every ``DRAG_STEP_MS``; the
  release commits it to the URL), play / pause, a play tick (one second = ``PLAY_SPEED`` seconds of
  situation) or "back to live" sets the moment (``Replay.AT``) and the URL's ``at=`` (play ticks rewrite the
  URL in place, so a reload or a shared link lands on the moment shown);
- ``replay_step``: the moment → the frame of the page's own context (area, filters, the actor's scope and
  masking) → map, KPI tiles and funnel set in place, the badge shown. The live push pauses for a page whose URL
  has ``at=`` (``callbacks.live.shows_past``); back to live re-renders the page from the current frame.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dash import Dash, Input, Output, State, no_update, set_props

from dashboard.callbacks import pages as page_callbacks
from dashboard.frames import Frame, ScreenContext
from dashboard.layouts.ids import Replay
from dashboard.layouts.replay import PLAY_SPEED, STEP_S, badge_text, slider_marks
from dashboard.layouts.root import LIVE_FILTERS, ROOT_LANG, URL
from dashboard.page_request import FUTURE_SLACK_S, whole_moment
from dashboard.push import PropUpdate, step
from dashboard.runtime import Runtime
from incidents.timetravel import Rebuild

DRAG_STEP_MS = 250  # while the thumb is dragged, the page follows it at most this often

# The controller. Inputs: the slider's value (a drag released) and its value while dragged, play, live, the play
# tick; it writes the moment, the playing flag, the tick's switch, the URL's query and the slider's value. A moment
# at the slider's right end is "live". Times in the URL are Beijing time (+08:00).
CONTROLLER_JS = (
    """function (value, drag, play, live, tick, at, playing, min, max, search) {
    const nu = window.dash_clientside.no_update;
    const ids = (window.dash_clientside.callback_context.triggered || []).map((t) => t.prop_id);
    const trig = (p) => ids.includes(p);  // a release and its last drag can come together: the release wins
    const iso = (t) => new Date((t + 8 * 3600) * 1000).toISOString().slice(0, 19) + '+08:00';
    const query = (s, t) => {
        const p = new URLSearchParams(s || '');
        if (t === null) { p.delete('at'); } else { p.set('at', iso(t)); }
        const q = p.toString().replace(/%3A/g, ':').replace(/%2C/g, ',');
        return q ? '?' + q : '';
    };
    const live_now = at === null || at === undefined;
    const end = Math.floor(Date.now() / 1000);
    const top = Math.max(max || 0, end);
    if (trig('__LIVE__.n_clicks')) { return [null, false, true, query(search, null), top]; }
    if (trig('__PLAY__.n_clicks')) {
        if (playing) { return [nu, false, true, query(search, at), nu]; }
        const from = (live_now || at >= top - __STEP__) ? min : at;
        return [from, true, false, query(search, from), from];
    }
    if (trig('__TICK__.n_intervals')) {
        if (!playing || live_now) { return [nu, nu, true, nu, nu]; }
        const next = at + __SPEED__;
        if (next >= end) { return [null, false, true, query(search, null), top]; }
        const url = window.location.pathname + query(window.location.search, next);
        window.history.replaceState(window.history.state, '', url);
        return [next, nu, nu, nu, next];
    }
    clearTimeout(window.__osReplayDragTimer);
    if (trig('__SLIDER__.value')) {
        if (value === null || value === undefined) { return [nu, nu, nu, nu, nu]; }
        if (value >= (max || top) - __STEP__ / 2) {
            return live_now ? [nu, nu, nu, nu, nu] : [null, false, true, query(search, null), nu];
        }
        return [value === at ? nu : value, false, true, query(search, value), nu];
    }
    if (trig('__SLIDER__.drag_value')) {
        // the page follows the thumb while it is dragged: a step at most every __THROTTLE__ ms, and one for where
        // it rests (the release commits it to the URL); leaving live sets the URL at once, so the live push stops
        // drawing over the past
        const echo = drag === at || (live_now && drag >= (max || top) - __STEP__ / 2);
        if (playing || echo || drag === null || drag === undefined) { return [nu, nu, nu, nu, nu]; }
        const wait = (window.__osReplayDragAt || 0) + __THROTTLE__ - Date.now();
        if (wait > 0) {
            window.__osReplayDragTimer = setTimeout(() => {
                window.__osReplayDragAt = Date.now();
                window.dash_clientside.set_props('__AT__', {data: drag});
            }, wait);
            return [nu, nu, nu, nu, nu];
        }
        window.__osReplayDragAt = Date.now();
        return [drag, nu, nu, live_now ? query(search, drag) : nu, nu];
    }
    return [nu, nu, nu, nu, nu];
}""".replace("__LIVE__", Replay.LIVE)
    .replace("__PLAY__", Replay.PLAY)
    .replace("__TICK__", Replay.TICK)
    .replace("__STEP__", str(STEP_S))
    .replace("__SPEED__", str(PLAY_SPEED))
    .replace("__THROTTLE__", str(DRAG_STEP_MS))
    .replace("__AT__", Replay.AT)
    .replace("__SLIDER__", Replay.SLIDER)
)

# The clock beside the slider: the moment under the thumb while dragging, else the moment shown ("live" for none;
# the thumb parked at the right end by the reach is live too).
CLOCK_JS = """function (drag, at, labels) {
    const dragging = window.dash_clientside.callback_context.triggered.some((x) => x.prop_id.endsWith('drag_value'));
    const t = (dragging && (at !== null && at !== undefined || drag < Date.now() / 1000 - 60)) ? drag : at;
    if (t === null || t === undefined) { return labels.live; }
    const d = new Date((t + 8 * 3600) * 1000).toISOString();
    return d.slice(5, 10) + ' ' + d.slice(11, 16);
}"""

PLAY_LABEL_JS = """function (playing, labels) { return playing ? labels.pause : labels.play; }"""


def moment_of(value: object, now: float) -> float | None:
    """A moment the browser sent (epoch seconds), whole, or None when it is no number or in the future."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return whole_moment(float(value), now) if value <= now + FUTURE_SLACK_S else None


def slider_range(runtime: Runtime, shown: float | None, now: float) -> tuple[float, float]:
    """The slider's (min, max): ``Replay.reach`` on whole minutes, stretched to a ``shown`` moment beyond it (a URL's
    ``at`` older than the exact reach: the slider still says where it is)."""
    reach = runtime.replay.reach(now)
    start, end = reach if reach is not None else (now - STEP_S, now)
    start = float(int(start // STEP_S * STEP_S))
    return (min(start, shown) if shown is not None else start), end


def _step_to(
    runtime: Runtime, ctx: ScreenContext, moment: float
) -> tuple[Frame, Rebuild, tuple[PropUpdate, ...], tuple[float, float]]:
    """The frame of ``ctx`` at ``moment``, its rebuild, what turns any page of ``ctx`` into it, and the slider's
    range now that the timeline is warm (its exact left end)."""
    frame, rebuild = runtime.replay.frame(ctx, moment)
    return frame, rebuild, step(None, frame).props, slider_range(runtime, moment, time.time())


def register(app: Dash, runtime: Runtime) -> None:
    """The scrubber's callbacks (officials' page only: the gate asks ``console`` of each, ``access.gate``)."""

    @app.callback(
        Output(Replay.SLIDER, "min"),
        Output(Replay.SLIDER, "max"),
        Output(Replay.SLIDER, "marks"),
        Output(Replay.SLIDER, "value"),
        Input(Replay.REACH_TICK, "n_intervals"),
        State(Replay.AT, "data"),
    )
    async def replay_reach(_tick: int | None, at: Any) -> Any:
        now = float(int(time.time()))
        shown = moment_of(at, now)
        start, end = await asyncio.to_thread(slider_range, runtime, shown, now)
        return start, end, slider_marks(start, end), (end if shown is None else no_update)

    app.clientside_callback(
        CONTROLLER_JS,
        Output(Replay.AT, "data"),
        Output(Replay.PLAYING, "data"),
        Output(Replay.TICK, "disabled"),
        Output(URL, "search", allow_duplicate=True),
        Output(Replay.SLIDER, "value", allow_duplicate=True),
        Input(Replay.SLIDER, "value"),
        Input(Replay.SLIDER, "drag_value"),
        Input(Replay.PLAY, "n_clicks"),
        Input(Replay.LIVE, "n_clicks"),
        Input(Replay.TICK, "n_intervals"),
        State(Replay.AT, "data"),
        State(Replay.PLAYING, "data"),
        State(Replay.SLIDER, "min"),
        State(Replay.SLIDER, "max"),
        State(URL, "search"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        CLOCK_JS,
        Output(Replay.CLOCK, "children"),
        Input(Replay.SLIDER, "drag_value"),
        Input(Replay.AT, "data"),
        State(Replay.PLAY_LABELS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        PLAY_LABEL_JS,
        Output(Replay.PLAY, "children"),
        Input(Replay.PLAYING, "data"),
        State(Replay.PLAY_LABELS, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(Replay.SHOWN, "data"),
        Input(Replay.AT, "data"),
        Input(LIVE_FILTERS, "data"),
        State(URL, "pathname"),
        State(URL, "search"),
        State(ROOT_LANG, "data"),
        prevent_initial_call=True,
    )
    async def replay_step(at: Any, filters: Any, pathname: Any, search: Any, lang: Any) -> Any:
        moment = moment_of(at, time.time())
        if moment is None:
            return no_update  # live: the live push draws the page (back to live re-renders it)
        req = page_callbacks.request_of(
            runtime, pathname if isinstance(pathname, str) else "/", search if isinstance(search, str) else "", lang
        )
        f = filters if isinstance(filters, dict) else {}
        ctx = ScreenContext.of(
            "console",
            req.lang,
            f.get("statuses"),
            f.get("communities"),
            area=req.area,
            scope=req.scope,
            masked=req.masked,
        )
        # off the event loop (Dash runs a callback on it): the rebuild, the frame and the page's updates
        frame, rebuild, props, (start, end) = await asyncio.to_thread(_step_to, runtime, ctx, moment)
        for component, prop, value in props:
            set_props(component, {prop: value})
        set_props(Replay.SLIDER, {"min": start, "marks": slider_marks(start, end)})
        set_props(Replay.BADGE, {"children": badge_text(moment, req.lang, rebuild.approximate), "hidden": False})
        set_props(Replay.NOTICE, {"hidden": True})
        set_props(Replay.LIVE, {"disabled": False})
        set_props(Replay.BAR, {"className": "os-replay is-history"})
        return {
            "at": moment,
            "token": frame.token,
            "approximate": rebuild.approximate,
            "kpis": {tile.key: tile.value for tile in frame.kpis},
        }
