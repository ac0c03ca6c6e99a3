"""Routing: /wall or / rendered from the frame hub's current frame (so the first paint is already complete).

Page loads never compute a frame of their own: the page is built from ``FrameHub.frame(ctx)`` — the frame every
live connection of that context is diffed against — and the layout response for one frame is built once and
served to every browser loading it (``dashboard.page_cache``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, dcc, no_update

from dashboard.access.actor import Actor, current_actor
from dashboard.access.scope import confine
from dashboard.figures.incident_map import build_incident_map
from dashboard.figures.layer_stack import counts_by_layer, stack_layers
from dashboard.figures.layers import LAYER_KEYS, AreaScope, rows_in_scope
from dashboard.frames import Frame
from dashboard.layouts.areas import area_bar, area_title
from dashboard.layouts.console import DEFAULT_LAYERS, console_layout
from dashboard.layouts.ids import Tour
from dashboard.layouts.replay import replay_bar, wall_badge
from dashboard.layouts.root import LIVE_TOKEN, PAGE, PAGE_RENDERED, ROOT_LANG, URL
from dashboard.layouts.wall import wall_layout
from dashboard.layouts.worklist import work_list_block
from dashboard.page_request import PageRequest, page_request
from dashboard.runtime import Runtime
from geo.areas import area_outline, layer_counts


def request_of(
    runtime: Runtime, path: str | None, query: str | None, lang: str | None = None, actor: Actor | None = None
) -> PageRequest:
    """The ``PageRequest`` of a page URL as ``actor`` (default: the request's, ``current_actor``) may see it
    (``access.scope.confine``: its areas, masked or not); ``lang`` (the tab's chosen language) wins over the URL's."""
    req = page_request(path, query, default_lang=runtime.settings.lang, areas=runtime.geo.areas)
    req = confine(req, current_actor() if actor is None else actor, runtime.geo.areas)
    return replace(req, lang=lang) if lang in ("zh", "en") else req


def _href(path: str, req: PageRequest) -> Callable[[str], str]:
    return lambda ref: path + req.search_for(ref)


def frame_for(runtime: Runtime, req: PageRequest) -> Frame:
    """The frame a page shows: the hub's current one, or for ``?at=`` the replay's of that moment (same context:
    area, scope, masking)."""
    if req.at is None:
        return runtime.hub.frame(req.context())
    return runtime.replay.frame(req.context(), req.at)[0]


def page_from_frame(runtime: Runtime, frame: Frame, req: PageRequest) -> Any:
    """The wall or console page showing ``frame`` for ``req`` (its area, its tour; a past moment's badge and the
    officials' scrubber)."""
    wall = frame.ctx.screen == "wall"
    approximate = runtime.replay.view_at(req.at)[1].approximate if req.at is not None else 0
    tree = runtime.geo.areas
    ref = req.area or tree.root
    path = tree.path(ref)
    focused = bool(req.area)
    wall_layers = set(runtime.settings.wall_layers) if wall else set()
    figure = build_incident_map(
        runtime.hub.base_for(frame.ctx),
        frame.grid_z,
        frame.traces,
        theme="wall" if wall else "console",
        lang=frame.ctx.lang,
        # the members layer of figures.layers (by role, on duty) replaces the one-colour member dots
        show_members=wall and runtime.settings.show_members_on_wall and "members" not in wall_layers,
        frame_token=frame.token,
        area_counts=frame.area_counts,
        focus=path[-1].bbox if focused else None,
        focus_key=req.area,
        outline=area_outline(runtime.shown_layers, ref) if focused else None,
        member_ids=member_ids(runtime, req),
    )
    scope = area_scope(runtime, req.area, req.scope)
    counts = area_counts(runtime, ref)
    if wall:
        if not runtime.settings.show_members_on_wall:
            wall_layers.discard("members")
        # level of detail: a district's 100,000 members would bury the response states; drill in to see them
        wall_layers = {k for k in wall_layers if (counts.get(k) or 0) <= WALL_MAX_FEATURES}
        stack_layers(figure, runtime.shown_layers, wall_layers, frame.ctx.lang, theme="wall", area=scope, wall=True)
        page = wall_layout(
            street_name=area_title(path),
            lang=frame.ctx.lang,
            figure=figure,
            kpis=frame.kpi_values,
            feed=frame.feed,
            now=frame.now,
            pulse=runtime.settings.wall_pulse,
        )
        badge = wall_badge(
            frame.ctx.lang, at=req.at, approximate=approximate, bad_at=req.bad_at, reason=req.bad_at_reason
        )
        if not req.tour and badge is None:
            return page
        return [page, *([badge] if badge is not None else []), *(tour_components(req) if req.tour else [])]
    # a district's 100,000 members would make every page load megabytes: there they wait for their toggle
    # … and a district's 10,000 grid outlines are megabytes of lines nobody reads at that zoom (level of detail)
    defaults = [k for k in DEFAULT_LAYERS if (counts.get(k) or 0) <= lazy_above(k)]
    stack = stack_layers(
        figure, runtime.shown_layers, [k for k in defaults if k in LAYER_KEYS], frame.ctx.lang,
        theme="console", area=scope,
    )  # fmt: skip
    stack.shown = sorted(defaults)
    communities = {
        c: n
        for c, n in zip(runtime.layers.communities["community_id"], runtime.layers.communities["name"], strict=True)
        if not req.scope or tree.inside(f"community:{c}", req.scope)
    }
    # a confined actor's breadcrumb leads only where it may go: areas inside its own, or holding one of them
    children = [
        tree.areas[c]
        for c in tree.children.get(ref, ())
        if not req.scope or tree.inside(c, req.scope) or any(tree.contains(c, s) for s in req.scope)
    ]
    return console_layout(
        street_name=area_title(path),
        lang=frame.ctx.lang,
        figure=figure,
        kpis=frame.kpi_values,
        communities=communities,
        funnel=frame.funnel,
        area_bar=area_bar(path, children, frame.ctx.lang, _href(req.path, req), req.bad_area),
        layer_counts=counts,
        layer_stack=stack.as_json(),
        layers_on=defaults,
        replay=replay_bar(
            frame.ctx.lang, at=req.at, approximate=approximate, bad_at=req.bad_at, bad_at_reason=req.bad_at_reason
        ),
        work_list=work_list_block(frame.ctx.lang),
    )


LAZY_ABOVE_FEATURES = 20_000  # a default layer with more features in the area is loaded on its toggle only
LAZY_ABOVE_OUTLINES = 2_000  # the same for a layer of polygon outlines (one line per polygon: ~300 B each)
OUTLINE_LAYERS = frozenset({"grid_types", "micro_grids", "zones"})


def lazy_above(key: str) -> int:
    """How many features of layer ``key`` the officials' page carries on load at most; a layer with more in the
    area waits for its toggle (the district's 10,000 grid outlines: 3 MB of lines, a street's 250: 80 KB)."""
    return LAZY_ABOVE_OUTLINES if key in OUTLINE_LAYERS else LAZY_ABOVE_FEATURES


WALL_MAX_FEATURES = 5_000  # a wall layer with more features in its area is left out there (shown when scoped in)


def area_scope(runtime: Runtime, area: str, confined: tuple[str, ...] = ()) -> AreaScope | None:
    """The ``figures.layers`` scope of ``area`` ("" = everything: None), or with no area of the union of
    ``confined`` (a confined actor's areas: ``PageRequest.scope``); static, computed once per area."""
    if not area and confined:
        tree = runtime.geo.areas
        known = [r for r in confined if r in tree.areas]  # an unknown ref (an area gone from the data) adds nothing
        return runtime.memo(
            ("scope", confined),
            lambda: AreaScope.union([AreaScope.from_tree(tree, r, runtime.layers) for r in known]),
        )
    if not area:
        return None
    return runtime.memo(("scope", area), lambda: AreaScope.from_tree(runtime.geo.areas, area, runtime.layers))


def member_ids(runtime: Runtime, req: PageRequest) -> frozenset[str] | None:
    """The members a page of a confined actor may draw (its areas'); None: all."""
    if not req.scope:
        return None
    scope = area_scope(runtime, req.area, req.scope)
    return runtime.memo(
        ("members", req.area, req.scope),
        lambda: frozenset(rows_in_scope(runtime.layers.members, scope)["member_id"].astype(str)),
    )


def client_area_scope(runtime: Runtime, area: object) -> AreaScope | None:
    """``area_scope`` of an area a page says it shows (a store the browser sends back: not to be believed), as the
    current actor may see it."""
    req = request_of(runtime, "/", "?area=" + area if isinstance(area, str) and area else "")
    return area_scope(runtime, req.area, req.scope)


def area_counts(runtime: Runtime, ref: str) -> dict[str, int | None]:
    """Features per map layer in area ``ref`` (``geo.areas.layer_counts`` → ``layer_stack.counts_by_layer``);
    static, computed once per area."""
    return runtime.memo(("counts", ref), lambda: counts_by_layer(layer_counts(runtime.geo.areas, runtime.layers, ref)))


def tour_components(req: PageRequest) -> list[Any]:
    """A touring wall's ticker and its areas: each tick the URL moves to the next area (``callbacks.wall``)."""
    nxt = {ref: req.search_for(req.tour[(i + 1) % len(req.tour)]) for i, ref in enumerate(req.tour)}
    return [
        dcc.Store(id=Tour.STORE, data={"next": nxt, "first": req.search_for(req.tour[0])}),
        dcc.Interval(id=Tour.TICK, interval=req.dwell_s * 1000),
    ]


def same_page_but_moment(rendered: Any, wanted: dict[str, Any]) -> bool:
    """Whether the page on screen (``PAGE_RENDERED``) is ``wanted`` but for the moment shown (``at``)."""
    if not isinstance(rendered, dict):
        return False
    skip = ("at", "bad_at")
    return {k: v for k, v in rendered.items() if k not in skip} == {k: v for k, v in wanted.items() if k not in skip}


def lang_from_query(search: str | None) -> str | None:
    """``?lang=en`` / ``?lang=zh`` on any page URL (a wall has no buttons to press)."""
    values = parse_qs((search or "").lstrip("?")).get("lang") or []
    return values[-1] if values and values[-1] in ("zh", "en") else None


def register(app: Dash, runtime: Runtime) -> None:
    """Register the router callbacks: render the page for the URL and language, and ``?lang=`` from the URL."""

    @app.callback(
        Output(PAGE, "children"),
        Output(PAGE_RENDERED, "data"),
        Output(LIVE_TOKEN, "data"),
        Input(URL, "pathname"),
        Input(URL, "search"),
        Input(ROOT_LANG, "data"),
        State(PAGE_RENDERED, "data"),
    )
    def route(pathname: str | None, search: str | None, lang: str | None, rendered_for: Any) -> Any:
        req = request_of(runtime, pathname, search, lang)
        wanted = req.as_store()
        if rendered_for == wanted:
            return no_update, no_update, no_update  # the page on screen is this one (the layout brought it)
        if req.at is not None and req.screen == "console" and same_page_but_moment(rendered_for, wanted):
            return no_update, wanted, no_update  # the scrubber moved: callbacks.replay updates the page in place
        frame = frame_for(runtime, req)
        return page_from_frame(runtime, frame, req), wanted, frame.token

    @app.callback(
        Output(ROOT_LANG, "data", allow_duplicate=True),
        Input(URL, "search"),
        State(ROOT_LANG, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def language_from_url(search: str | None, current: str | None) -> Any:
        wanted = lang_from_query(search)
        return wanted if wanted and wanted != current else no_update
