"""The 一张图 layers stacked on the incident map: which traces and place-name layers a figure carries, where.

Pure (no Dash, no Redis). ``stack_layers`` appends the traces of some layers (``figures.layers``) after the map's
fixed traces and the place names to ``layout.map.layers``, and returns a ``Stack`` saying where each layer went:
the console toggles a layer by those indices (``callbacks.console``) and loads a layer the page does not carry yet
by appending its traces at ``Stack.next``; the wall carries its configured set.

Legend entries carry the number of features in the area (``网格员 (412)``): the counts per kind for the area the
page or wall shows — the selected area (breadcrumb, ``?area=``/``?scope=``), not whatever part of it the map's
current view shows after a pan or zoom; the legend's title says so (``layer.counts_scope``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from cachetools import LRUCache, cached

from dashboard import i18n
from dashboard.figures.incident_map import Theme
from dashboard.figures.layers import LAYER_KEYS, AreaScope, layer_traces, place_name_layers

PLACE_NAMES = "place_names"
MAX_LABELS = 3_000  # place names in one label layer, at most


@dataclass
class Stack:
    """Where the layers of a figure are: ``traces[key]`` = data indices, ``names`` = ``layout.map.layers``
    indices of the place names, ``next`` = the index the next appended trace gets. JSON-able (``as_json``)."""

    traces: dict[str, list[int]] = field(default_factory=dict)
    names: list[int] = field(default_factory=list)
    next: int = 0
    shown: list[str] = field(default_factory=list)  # the toggles the map shows now (the console's checklist values)

    def as_json(self) -> dict[str, Any]:
        return {"traces": self.traces, "names": self.names, "next": self.next, "shown": self.shown}

    @classmethod
    def of(cls, data: Any) -> Stack:
        """From ``as_json`` output (or None: nothing loaded, ``next`` unknown = 0)."""
        d = data if isinstance(data, dict) else {}
        traces = {str(k): [int(i) for i in v] for k, v in (d.get("traces") or {}).items()}
        shown = [str(k) for k in d.get("shown") or []]
        return cls(traces, [int(i) for i in d.get("names") or []], int(d.get("next") or 0), shown)


# The geo layers each map layer draws (``geo.areas.layer_counts`` keys), for the per-area counts of a layer list.
DRAWS: dict[str, tuple[str, ...]] = {
    "grid_types": ("grids",),
    "micro_grids": ("micro_grids",),
    "party_orgs": ("party_orgs",),
    "zones": ("responsibility_zones",),
    "members": ("members",),
    "households": ("households",),
    "forces": ("volunteer_teams", "units"),
    "basic_units": ("basic_units",),
    "place_names": ("communities",),
}


def counts_by_layer(counts: dict[str, int | None]) -> dict[str, int | None]:
    """``geo.areas.layer_counts`` output → features per map layer (None where the area is finer than the layer's
    places: teams belong to communities, there is no count of them per grid)."""
    out: dict[str, int | None] = {}
    for key, names in DRAWS.items():
        values = [counts.get(n) for n in names]
        out[key] = None if any(v is None for v in values) else sum(v for v in values if v is not None)
    return out


def counted(traces: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The traces with each legend name followed by its feature count, ``党员 (1,203)``."""
    out = []
    for tr in traces:
        n = (tr.get("meta") or {}).get("features")
        if tr.get("showlegend", True) and isinstance(n, int):
            tr = {**tr, "name": f"{tr.get('name', '')} ({n:,})"}
        out.append(tr)
    return out


# Encoded bytes of layer traces kept (LRU). A district's layers as Python lists and dicts were ~170 MB of the server
# for good (zones ~73, micro-grids ~44, members ~25, households ~25); as compact JSON they are ~5× smaller, and a
# layer nobody toggled for a while makes room for the next.
CACHE_BYTES = 48 * 1024 * 1024
_encoded_traces: LRUCache[Hashable, bytes] = LRUCache(maxsize=CACHE_BYTES, getsizeof=len)


@cached(_encoded_traces, lock=threading.Lock())
def _encoded(layers: Any, key: str, lang: str, theme: Theme, area: AreaScope | None, wall: bool) -> bytes:
    # The layers are static: a layer's traces for one area are built once, not on every page render or toggle;
    # kept as UTF-8 JSON (a layer bigger than the whole cache is built each time instead).
    traces = counted(layer_traces(layers, key, lang, theme=theme, area=area, wall=wall))
    return json.dumps(traces, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def layer_trace_dicts(
    layers: Any, key: str, lang: str, *, theme: Theme, area: AreaScope | None, wall: bool, visible: bool = True
) -> list[dict[str, Any]]:
    """The traces of one layer (``figures.layers.layer_traces``), counted, with ``visible`` set — what a page
    carries and what the console appends when a layer is toggled on. Built once per (layers object, key, language,
    theme, area, wall) and kept encoded (``CACHE_BYTES`` at most over all of them, least recently used first out):
    every call returns new dicts."""
    traces: list[dict[str, Any]] = json.loads(_encoded(layers, key, lang, theme, area, wall))
    for tr in traces:
        tr["visible"] = visible
    return traces


def _scalar_size(trace: Any) -> bool:
    """Whether a trace has markers of one size (a per-point size array is left as drawn)."""
    size = getattr(getattr(trace, "marker", None), "size", None)
    return isinstance(size, int | float) and not isinstance(size, bool)


def stack_layers(
    fig: go.Figure,
    layers: Any,
    keys: Iterable[str],
    lang: str,
    *,
    theme: Theme,
    area: AreaScope | None = None,
    wall: bool = False,
    visible: Collection[str] | None = None,
) -> Stack:
    """Append the layers ``keys`` (``figures.layers.LAYER_KEYS``, in that order) to ``fig`` in place: their traces
    after the existing ones, the place names (key ``place_names``) to ``layout.map.layers``. ``visible``: the keys
    shown (default all of ``keys``). Shows the figure's legend when a layer is shown (the incident traces have no
    legend entries of their own). ``KeyError`` for an unknown key."""
    wanted = [k for k in LAYER_KEYS if k in set(keys)]
    unknown = set(keys) - set(LAYER_KEYS)
    if unknown:
        raise KeyError(f"unknown layers: {sorted(unknown)}")
    shown = set(wanted if visible is None else visible)
    stack = Stack(next=len(fig.data))
    first = stack.next
    for key in wanted:
        traces = layer_trace_dicts(layers, key, lang, theme=theme, area=area, wall=wall, visible=key in shown)
        if wall and key == PLACE_NAMES:  # the names speak for themselves on a wall; no legend entry
            traces = [{**tr, "showlegend": False} for tr in traces]
        fig.add_traces(traces)
        stack.traces[key] = list(range(stack.next, stack.next + len(traces)))
        stack.next += len(traces)
        if key == PLACE_NAMES:
            existing = list(fig.layout.map.layers or ())
            names = [
                {**layer, "visible": key in shown}
                for layer in place_name_layers(layers, lang, theme, area)
                # a district's 10,000 grid names are ~1 MB of labels nobody reads at district zoom: drill in
                if len(layer["source"]["features"]) <= MAX_LABELS
            ]
            stack.names = list(range(len(existing), len(existing) + len(names)))
            fig.update_layout(map_layers=[*existing, *names])  # halo: incident_map.text_halo
    if wall:
        # a 4K wall scales every marker with its stage: assets/onescreen.js scaleMap reads meta.marker_sizes
        sizes = {str(i): fig.data[i].marker.size for i in range(first, stack.next) if _scalar_size(fig.data[i])}
        meta = fig.layout.meta or {}
        fig.update_layout(meta={**meta, "marker_sizes": {**meta.get("marker_sizes", {}), **sizes}})
    if shown & set(wanted):
        # top right: the wall's HTML legend of the incident states sits bottom left
        title = {"text": i18n.t("layer.counts_scope", lang)}  # the legend's font: scaled with a wall's stage
        legend = {"x": 0.99, "y": 0.99, "xanchor": "right", "yanchor": "top", "title": title}
        fig.update_layout(showlegend=True, legend=legend, legend_groupclick="togglegroup")
    return stack
