"""Where incidents may be: the served area's bounds and grids. Pure (numpy/pandas), shared by every way in.

The feed checks bare PUBLISHes with it; the durable path (HTTP, Open311) checks before storing. A point outside
the bounds is rejected ("lat/lon swapped?" when the swapped point is inside), one inside the bounds but outside
every grid too: nobody could be dispatched to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from incidents.wire import WireMessage

Locator = Callable[[np.ndarray, np.ndarray], pd.DataFrame]


class MessageGuard(Protocol):
    """Anything that judges where messages may be: ``check(msgs)`` → per message None (accept) or the reason."""

    def check(self, msgs: Sequence[WireMessage]) -> list[str | None]: ...


@dataclass(frozen=True, slots=True)
class AreaGuard:
    """Where incidents may be: the served area's bounds (lon/lat degrees) and, optionally, the grid locator.

    ``check(msgs)`` gives, per message, ``None`` (fine, or no coordinates) or the reason to reject it:
    outside the bounds (``margin_deg`` wider on each side) — "lat/lon swapped?" when the swapped point is
    inside — or inside the bounds but outside every grid (``locate`` returns ``grid_id == ""``).
    """

    bounds: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    locate: Locator | None = None
    margin_deg: float = 0.01

    @classmethod
    def of(cls, bounds: Sequence[float], locate: Locator | None = None, margin_deg: float = 0.01) -> AreaGuard:
        """A guard for ``bounds`` (min lon, min lat, max lon, max lat; degrees WGS-84), any 4-number sequence."""
        x0, y0, x1, y1 = (float(v) for v in bounds)
        return cls((x0, y0, x1, y1), locate, margin_deg)

    def _inside(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.bounds
        m = self.margin_deg
        return x0 - m <= lon <= x1 + m and y0 - m <= lat <= y1 + m

    def check(self, msgs: Sequence[WireMessage]) -> list[str | None]:
        """Per message (same order): ``None`` to accept it, else the rejection reason (see the class doc)."""
        out: list[str | None] = [None] * len(msgs)
        to_locate: list[int] = []
        x0, y0, x1, y1 = self.bounds
        for i, msg in enumerate(msgs):
            lon, lat = msg.get("lon"), msg.get("lat")
            if lon is None or lat is None:
                continue
            if self._inside(lon, lat):
                to_locate.append(i)
            elif self._inside(lat, lon):
                out[i] = f"lat/lon swapped? point (lon {lon}, lat {lat}) is outside the area; swapped it is inside"
            else:
                out[i] = (
                    f"point (lon {lon}, lat {lat}) is outside the area (lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f})"
                )
        if self.locate is not None and to_locate:
            lon_a = np.array([msgs[i]["lon"] for i in to_locate], dtype=float)
            lat_a = np.array([msgs[i]["lat"] for i in to_locate], dtype=float)
            grids = self.locate(lon_a, lat_a)["grid_id"].to_numpy()
            for i, grid in zip(to_locate, grids, strict=True):
                if not grid:
                    out[i] = f"point (lon {msgs[i]['lon']}, lat {msgs[i]['lat']}) is outside every grid"
        return out
