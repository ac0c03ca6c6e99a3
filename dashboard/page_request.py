"""What a page URL asks for: screen, language, area, and a wall's tour — parsed once, checked against the areas.

Pure (no Dash, no Redis). The URL parameters (documented in the README):

- ``lang=zh|en`` on any page;
- ``area=KIND:ID`` on the officials' page (``/?area=community:C03``) and ``scope=KIND:ID`` on the wall
  (``/wall?scope=street:S02``; ``area`` is accepted there too) — ``geo.areas`` refs;
- on the wall, ``tour=communities|streets|grids`` (the areas of that kind inside the scope, or the whole data
  set) or ``tour=REF,REF,…`` cycles through areas, ``dwell=SECONDS`` on each (default ``TOUR_DWELL_S``,
  ``TOUR_DWELL_MIN_S``..``TOUR_DWELL_MAX_S``);
- ``at=TIME`` on both (``/?at=2026-11-30T14:00+08:00``, ``/wall?at=-2h``): the situation as it was then (time
  travel, ``incidents.timetravel.parse_at``: ISO 8601 — Beijing time without an offset —, epoch seconds, or
  relative to now), to the whole second. A time that is no time, or in the future, shows the live page with a
  notice (``PageRequest.bad_at``).

An area the data set does not have is not an error page: the page shows the whole data set and says which
area it could not find (``PageRequest.bad_area``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from dashboard.frames import ScreenContext
from geo.areas import AREA_KINDS, AreaError, AreaTree
from incidents.timeutil import SHANGHAI, parse_at

TOUR_DWELL_S: Final = 30
TOUR_DWELL_MIN_S: Final = 5
TOUR_DWELL_MAX_S: Final = 3600
TOUR_KINDS: Final[dict[str, str]] = {"streets": "street", "communities": "community", "grids": "grid"}
MAX_TOUR: Final = 200  # areas in one tour (a district has 1,000 communities: a tour of those is not a tour)
FUTURE_SLACK_S: Final = 60.0  # an ``at`` this far ahead of the server's clock is still "now" (clock skew)


def screen_of_path(pathname: str | None) -> str:
    """``wall`` for ``/wall`` (with or without a trailing slash or prefix), else ``console``."""
    return "wall" if (pathname or "").rstrip("/").endswith("/wall") else "console"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page as a URL asks for it. Hashable: rendered pages are cached by it (``dashboard.page_cache``).

    ``area``: a ref of the data set, "" for the root. ``bad_area``: the URL's area when it names none (then
    ``area`` is ""). ``tour``: refs a wall cycles through (empty: no tour), ``dwell_s`` seconds each.
    ``scope``/``masked``: who looks at it (``dashboard.access.scope.confine``): the areas the page is limited to
    (empty: everything) and whether personal data is masked — part of the key, so pages and frames made for one
    actor are never served to another who may see less.
    """

    path: str
    lang: str
    area: str = ""
    bad_area: str = ""
    tour: tuple[str, ...] = ()
    dwell_s: int = TOUR_DWELL_S
    scope: tuple[str, ...] = ()
    masked: bool = False
    at: float | None = None
    bad_at: str = ""
    bad_at_reason: str = ""

    @property
    def screen(self) -> str:
        """``wall`` or ``console``."""
        return screen_of_path(self.path)

    def context(self) -> ScreenContext:
        """The frame context of the page (no console filters: a fresh page has none)."""
        return ScreenContext.of(self.screen, self.lang, area=self.area, scope=self.scope, masked=self.masked)

    def as_store(self) -> dict[str, Any]:
        """What ``PAGE_RENDERED`` holds for this page (JSON)."""
        return {
            "path": self.path,
            "lang": self.lang,
            "area": self.area,
            "bad_area": self.bad_area,
            "tour": list(self.tour),
            "dwell_s": self.dwell_s,
            "scope": list(self.scope),
            "masked": self.masked,
            "at": self.at,
            "bad_at": self.bad_at,
        }

    def search_for(self, area: str) -> str:
        """The query string of this page showing ``area`` instead (for links and the tour's next step)."""
        params: dict[str, str] = {}
        if area:
            params["scope" if self.screen == "wall" else "area"] = area
        if self.tour:
            params["tour"] = ",".join(self.tour)
            params["dwell"] = str(self.dwell_s)
        if self.at is not None:
            params["at"] = at_param(self.at)
        return ("?" + urlencode(params, safe=":,")) if params else ""


def at_param(at: float) -> str:
    """``at`` as the URL writes it: Beijing time to the second, ``2026-11-30T14:00:00+08:00``."""
    return datetime.fromtimestamp(at, SHANGHAI).isoformat(timespec="seconds")


def parse_page_at(text: str, now: float) -> tuple[float | None, str]:
    """(moment, "") for a URL's ``at`` (whole seconds), or (None, ``invalid`` | ``future``). An offset's ``+``
    typed into an address bar arrives as a space (``14:00 08:00``): read as the ``+`` it was."""
    try:
        at = parse_at(text, now)  # restores a '+' the URL turned into a space
    except ValueError:
        return None, "invalid"
    if at != at or at in (float("inf"), float("-inf")):
        return None, "invalid"
    if at > now + FUTURE_SLACK_S:
        return None, "future"
    return whole_moment(at, now), ""


def whole_moment(at: float, now: float) -> float:
    """``at`` to the whole second; a moment from now on (within ``FUTURE_SLACK_S``) is now, rounded up so that
    everything that happened by now is in it."""
    return float(math.floor(at)) if at < now else float(math.ceil(now))


def _last(params: dict[str, list[str]], *names: str) -> str:
    for name in names:
        values = params.get(name)
        if values:
            return values[-1].strip()
    return ""


def _tour(spec: str, tree: AreaTree, scope: str) -> tuple[str, ...]:
    """The refs of ``tour=…``: a kind's plural (inside ``scope``) or a comma-separated list of refs (unknown
    ones dropped), at most ``MAX_TOUR``."""
    if not spec:
        return ()
    kind = TOUR_KINDS.get(spec)
    if kind is None:
        refs = [r.strip() for r in spec.split(",") if r.strip() in tree.areas]
        return tuple(dict.fromkeys(refs))[:MAX_TOUR]
    top = scope or tree.root
    if AREA_KINDS.index(kind) <= AREA_KINDS.index(tree.areas[top].kind):
        top = tree.root  # a tour of streets inside one street: tour the district's
    out: list[str] = []
    level = [top]
    while level and len(out) < MAX_TOUR:
        nxt = [c for ref in level for c in tree.children.get(ref, ())]
        if nxt and nxt[0].startswith(kind + ":"):
            out = nxt
            break
        level = nxt
    return tuple(out[:MAX_TOUR])


def _dwell(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        return TOUR_DWELL_S
    return max(TOUR_DWELL_MIN_S, min(TOUR_DWELL_MAX_S, value))


def page_request(
    path: str | None, query: str | None, *, default_lang: str, areas: AreaTree, now: float | None = None
) -> PageRequest:
    """Parse a page URL's path and query (``?`` optional) into a ``PageRequest`` (see the module doc); ``now``:
    the clock a relative or future ``at`` is read against (default: the system's)."""
    params = parse_qs((query or "").lstrip("?"))
    lang = _last(params, "lang")
    path = path or "/"
    wall = screen_of_path(path) == "wall"
    raw = _last(params, "scope", "area") if wall else _last(params, "area")
    area, bad = "", ""
    if raw:
        try:
            area = areas.get(raw).ref
        except AreaError:
            bad = raw[:80]
    if area == areas.root:
        area = ""  # the root is the page without an area: one cached page, one frame
    tour = _tour(_last(params, "tour"), areas, area) if wall else ()
    raw_at = _last(params, "at")
    at, why = parse_page_at(raw_at, time.time() if now is None else now) if raw_at else (None, "")
    return PageRequest(
        path=path,
        lang=lang if lang in ("zh", "en") else default_lang,
        area=area,
        bad_area=bad,
        tour=tour,
        dwell_s=_dwell(_last(params, "dwell")) if tour else TOUR_DWELL_S,
        at=at,
        bad_at=raw_at[:80] if why else "",
        bad_at_reason=why,
    )
