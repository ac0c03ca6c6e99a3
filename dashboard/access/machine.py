"""The machine API: which routes an API key may reach, and where an area-scoped ingest key may post.

``machine_action(method, path)`` names the ``policy`` action a route needs when a machine calls it:

- ``ingest``: ``POST /api/incidents``, ``POST /api/incidents/batch``, ``POST /open311/v2/requests.{json,xml}``;
- ``read``: ``GET``/``HEAD`` of ``/api/summary``, ``/api/areas``, ``/api/incidents/{id}``, ``/api/briefing.png``,
  ``/api/briefing.pdf``, the work list's exports ``/api/incidents.csv`` and ``/api/incidents.xlsx``,
  every Open311 read under ``/open311/`` and ``/metrics`` (Prometheus: counts and timings only);
- None: everything else (screens, callbacks, the WebSocket, login): never reached with a key.

``outside_areas`` is the area rule of an ingest key made with ``--area``: an incident is accepted only when its
point lies in one of the key's areas — the point the message gives, and the stored point of the incident it
changes (a key cannot move an incident in from elsewhere, nor change one outside). Pure but for the points it is
given; located with the grid index (``geo.index``), placed with the area tree (``geo.areas``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd

from geo.areas import AreaError, AreaTree

MachineAction = Literal["ingest", "read"]
INGEST_PATHS: Final = frozenset({"/api/incidents", "/api/incidents/batch"})
BATCH_PATH: Final = "/api/incidents/batch"
OPEN311_POST: Final = re.compile(r"^/open311/v2/requests\.[A-Za-z]+$")
_READ_PATHS: Final = frozenset(
    {
        "/api/summary",
        "/api/areas",
        "/api/briefing.png",
        "/api/briefing.pdf",
        "/api/incidents.csv",
        "/api/incidents.xlsx",
        "/metrics",
    }
)
_READ_INCIDENT: Final = re.compile(r"^/api/incidents/[^/]+$")
JSON_TYPES: Final = frozenset({"application/json"})

Point = tuple[float, float]  # lon, lat (WGS-84 degrees)
Locator = Callable[[np.ndarray, np.ndarray], pd.DataFrame]


def machine_action(method: str, path: str) -> MachineAction | None:
    """The action ``method path`` needs from an API key (module doc); None: no key may reach it."""
    if method == "POST":
        if path in INGEST_PATHS or OPEN311_POST.match(path):
            return "ingest"
        return None
    if method not in ("GET", "HEAD"):
        return None
    if path in _READ_PATHS or path.startswith("/open311/"):
        return "read"
    if _READ_INCIDENT.match(path) and path != BATCH_PATH:
        return "read"
    return None


def is_json_ingest(path: str) -> bool:
    """Whether ``path`` is one of the JSON ingest routes (only ``application/json`` bodies: no simple request)."""
    return path in INGEST_PATHS


def media_type(content_type: str) -> str:
    """``application/json; charset=utf-8`` → ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


def area_label(tree: AreaTree, refs: Sequence[str]) -> str:
    """``community:C003 (霞庭村)`` for each ref, comma-separated."""
    out = []
    for ref in refs:
        try:
            out.append(f"{ref} ({tree.get(ref).name})")
        except AreaError:
            out.append(ref)
    return ", ".join(out)


def outside_areas(
    points: Sequence[Sequence[Point]], refs: Sequence[str], tree: AreaTree, locate: Locator
) -> list[bool]:
    """Per item, whether any of its points (lon, lat) lies outside every area in ``refs`` (an item with no
    points: False — nothing to place, the wire contract decides). ``refs`` empty: nothing is outside."""
    if not refs or not points:
        return [False] * len(points)
    flat = [(i, p) for i, item in enumerate(points) for p in item]
    if not flat:
        return [False] * len(points)
    located = locate(np.array([p[0] for _, p in flat], dtype=float), np.array([p[1] for _, p in flat], dtype=float))
    inside = tree.mask_any(located, refs)  # the one containment rule, vectorised (geo.areas)
    out = [False] * len(points)
    for (i, _), ok in zip(flat, inside, strict=True):
        if not ok:
            out[i] = True
    return out
