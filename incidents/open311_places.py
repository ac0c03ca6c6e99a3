"""Placing an Open311 POST that has no ``lat``/``long``: ``address_id`` or ``address_string`` against the names and
ids the street's own layers already hold. Offline: no geocoder, no network.

GeoReport v2 lets a client locate a request by ``lat``/``long`` *or* ``address_string`` *or* ``address_id``. Here
an address is placed when it names a place of the data set:

* ``address_id`` — an id: a basic unit (``BU0001``), a co-building unit (``U001``), a micro-grid (``M00001``) or a
  grid (``G0003``), also as an area ref (``grid:G0003``); ids of communities and the street are known but too
  coarse (see below);
* ``address_string`` — free text containing names: ``澜湾街道霞庭村第1网格`` or ``霞庭村1号出租房`` or
  ``明湾产业园专属网格1号微网格门口``. Every known name found in the text counts (NFKC, case and spaces ignored; a
  name inside a longer name found at the same place does not count); the most specific one places the request,
  the broader ones must contain it (``塘埠社区霞庭村第1网格`` is refused: that grid is not in 塘埠社区) and
  disambiguate names that several places share (real data has four grids called ``西河社区网格``).

The point is the place's own (basic units, units) or a point inside its polygon (``point_on_surface``: micro-grids,
grids), so the situation locates the request in that grid. A request is dispatched by grid: text that names only a
community or the street is refused (it would put the request in an arbitrary grid), as is text naming nothing,
two places at once, or places that contradict each other — each with the reason (``Open311Error`` 400).

``Gazetteer.from_layers(layers)`` builds the index from ``geo`` layers; ``Gazetteer(places)`` from plain
``Place`` records (tests, other sources).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import shapely

from incidents.open311 import Open311Error

if TYPE_CHECKING:
    from geo.layers import GeoLayers

# Specificity: a higher rank is a smaller place. Grid and finer place a request.
RANK: Final[dict[str, int]] = {"street": 0, "community": 1, "grid": 2, "micro_grid": 3, "basic_unit": 4, "unit": 4}
PLACING_RANK: Final = RANK["grid"]
KIND_LABEL: Final[dict[str, str]] = {
    "street": "street",
    "community": "community",
    "grid": "grid",
    "micro_grid": "micro-grid",
    "basic_unit": "basic unit",
    "unit": "unit",
}
POINT_KINDS: Final = frozenset(("basic_unit", "unit"))  # point layers: their own point; the others a point inside
MIN_NAME: Final = 2  # shorter names (one character) would match almost any text


@dataclass(frozen=True, slots=True)
class Place:
    """A named place: ``kind`` (a ``RANK`` key), ``id``, ``name``, a point (WGS-84 degrees) inside it, and the refs
    of the areas that contain it (``{"community:C001", "grid:G0003", ...}``; its own ref included)."""

    kind: str
    id: str
    name: str
    lon: float
    lat: float
    within: frozenset[str] = frozenset()

    @property
    def ref(self) -> str:
        """``kind:id`` (``grid:G0003``)."""
        return f"{self.kind}:{self.id}"

    def label(self) -> str:
        """``grid 霞庭村第1网格 (G0003)``."""
        return f"{KIND_LABEL[self.kind]} {self.name} ({self.id})"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an address put a request: the place, and how (``address_id`` or ``address_string``)."""

    place: Place
    by: str

    def note(self) -> str:
        """The description line that records it: ``Location: grid 霞庭村第1网格 (G0003), from address_string``."""
        return f"Location: {self.place.label()}, from {self.by}"


def _norm(text: str) -> str:
    """NFKC, lower case, without spaces and common punctuation: what names are compared as."""
    return re.sub(r"[\s,，。.、;；:：()（）\-—_/#·]+", "", unicodedata.normalize("NFKC", text)).lower()


@dataclass
class Gazetteer:
    """The places a request can be placed at, by id and by name (see the module doc)."""

    places: list[Place]
    _by_id: dict[str, list[Place]] = field(init=False, repr=False)
    _names: list[tuple[str, Place]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {}
        for p in self.places:
            for key in (p.id.lower(), p.ref.lower()):
                self._by_id.setdefault(key, []).append(p)
        names = [(_norm(p.name), p) for p in self.places]
        self._names = sorted(((n, p) for n, p in names if len(n) >= MIN_NAME), key=lambda np_: -len(np_[0]))

    # ------------------------------------------------------------------------------------------------ building
    @classmethod
    def from_layers(cls, layers: GeoLayers) -> Gazetteer:
        """From the layers (EPSG:4326): street, communities, grids, micro-grids (a point inside each), basic units
        and co-building units (their points, placed in the micro-grid that contains them). Layers without a
        ``name`` column or rows add nothing. Vectorised; ~0.1 s for the demo data."""
        micro = layers.micro_grids
        tree = shapely.STRtree(micro.geometry.to_numpy())

        def rows(name: str, kind: str, id_col: str, parents: Mapping[str, str]) -> list[Place]:
            frame = getattr(layers, name)
            if not len(frame) or "name" not in frame.columns:
                return []
            geoms = frame.geometry.to_numpy()
            pts = geoms if kind in POINT_KINDS else shapely.point_on_surface(geoms)
            xs, ys = shapely.get_x(pts), shapely.get_y(pts)  # NaN for an empty geometry: left out below
            ids = frame[id_col].astype(str).to_numpy()
            names = frame["name"].fillna("").astype(str).to_numpy()
            refs = [{f"{kind}:{i}"} for i in ids]
            for col, parent in parents.items():
                if col in frame.columns:
                    for r, v in zip(refs, frame[col].fillna("").astype(str).to_numpy(), strict=True):
                        if v:
                            r.add(f"{parent}:{v}")
            if kind in POINT_KINDS and len(micro):  # the micro-grid (so grid, community) each point lies in
                inp, hit = tree.query(pts, predicate="intersects")
                for i, m in zip(inp, hit, strict=True):
                    refs[i] |= {f"micro_grid:{micro['micro_grid_id'].iat[m]}", f"grid:{micro['grid_id'].iat[m]}"}
            return [
                Place(kind, i, n.strip(), float(x), float(y), frozenset(r))
                for i, n, x, y, r in zip(ids, names, xs, ys, refs, strict=True)
                if n.strip() and math.isfinite(x) and math.isfinite(y)
            ]

        places = [
            *rows("street", "street", "street_id", {}),
            *rows("communities", "community", "community_id", {"street_id": "street"}),
            *rows("grids", "grid", "grid_id", {"community_id": "community"}),
            *rows("micro_grids", "micro_grid", "micro_grid_id", {"grid_id": "grid", "community_id": "community"}),
            *rows("basic_units", "basic_unit", "basic_unit_id", {"grid_id": "grid", "community_id": "community"}),
            *rows("units", "unit", "unit_id", {"community_id": "community"}),
        ]
        return cls(_with_ancestors(places))

    # ------------------------------------------------------------------------------------------------ placing
    def place(self, address_id: str, address_string: str) -> Placement:
        """The place ``address_id`` (tried first) or ``address_string`` names. Raises ``Open311Error`` 400 saying
        why neither places the request."""
        reasons = []
        for by, value, find in (
            ("address_id", address_id, self.by_id),
            ("address_string", address_string, self.by_text),
        ):
            if not value.strip():
                continue
            try:
                return Placement(find(value), by)
            except Open311Error as exc:
                reasons.append(exc.description)
        if not reasons:
            raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
        raise Open311Error(400, "; ".join(reasons))

    def by_id(self, value: str) -> Place:
        """The place with id (or area ref) ``value``, case-insensitive; ``Open311Error`` 400 otherwise."""
        shown = value.strip()[:60]
        found = self._by_id.get(value.strip().lower(), [])
        if len(found) > 1:
            raise Open311Error(400, f"address_id {shown!r} names {len(found)} places: {_list(found)}; send KIND:ID")
        if not found:
            raise Open311Error(
                400,
                f"address_id {shown!r} is not the id of a basic unit, unit, micro-grid or grid of this street",
            )
        return _fine_enough(found[0], f"address_id {shown!r}")

    def by_text(self, value: str) -> Place:
        """The place ``value`` names (module doc); ``Open311Error`` 400 saying why when it names none clearly."""
        shown = value.strip()[:80]
        text = _norm(value)
        hits = self._hits(text)
        if not hits:
            raise Open311Error(
                400,
                f"address_string {shown!r} names no grid, micro-grid, basic unit or unit of this street "
                "(no geocoder here: send lat/long, or the name as the street's data has it)",
            )
        finest = max(RANK[p.kind] for p in hits)
        broader = [p for p in hits if RANK[p.kind] < finest]
        candidates = [p for p in hits if RANK[p.kind] == finest]
        consistent = [c for c in candidates if all(b.ref in c.within for b in broader)]
        if not consistent:
            raise Open311Error(400, f"address_string {shown!r}: {_list(candidates)} does not lie in {_list(broader)}")
        if len(consistent) > 1:
            raise Open311Error(400, f"address_string {shown!r} names several places: {_list(consistent)}")
        return _fine_enough(consistent[0], f"address_string {shown!r}")

    def _hits(self, text: str) -> list[Place]:
        """Places whose name occurs in ``text``, longest names first; a name lying inside a longer name's match
        does not count (``霞庭村`` inside ``霞庭村第1网格`` is that grid's name, not the village's)."""
        taken: list[tuple[int, int]] = []
        hits: list[Place] = []
        for name, place in self._names:
            start = text.find(name)
            while start >= 0:
                end = start + len(name)
                inside = any(s <= start and end <= e and (e - s) > len(name) for s, e in taken)
                if not inside:
                    taken.append((start, end))
                    if place not in hits:
                        hits.append(place)
                    break
                start = text.find(name, start + 1)
        return hits


def _with_ancestors(places: list[Place]) -> list[Place]:
    """Each place's ``within`` closed upward (a grid in a community is in the community's street too)."""
    parents = {p.ref: p.within - {p.ref} for p in places}
    out = []
    for p in places:
        seen = set(p.within)
        todo = list(p.within - {p.ref})
        while todo:
            ref = todo.pop()
            for up in parents.get(ref, ()):
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
        out.append(Place(p.kind, p.id, p.name, p.lon, p.lat, frozenset(seen)))
    return out


def _fine_enough(place: Place, what: str) -> Place:
    if RANK[place.kind] < PLACING_RANK:
        raise Open311Error(
            400,
            f"{what} names only the {place.label()}: requests are dispatched by grid; "
            "name its grid, micro-grid or a basic unit, or send lat/long",
        )
    return place


def _list(places: Iterable[Place], limit: int = 4) -> str:
    items = list(places)
    text = ", ".join(p.label() for p in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")
