"""One record per data problem, shared by loading (``GeoValidationError``) and the validation report."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """A problem found in one layer (``feature_id`` "" for layer-wide ones).

    ``kind`` is a stable machine code (``invalid_geometry``, ``overlap`` …); ``message`` is for people.
    ``lon``/``lat`` (WGS-84) say where, when known; ``area_m2`` how big (overlaps, gaps, parts outside a parent).
    """

    layer: str
    feature_id: str  # the feature's id, "row N" when it has none, "" for layer-wide problems
    message: str
    kind: str = "other"
    severity: Severity = "error"
    file: str = ""
    lon: float | None = None
    lat: float | None = None
    area_m2: float | None = None

    @property
    def is_error(self) -> bool:
        """Whether the severity is ``error``."""
        return self.severity == "error"

    def where(self) -> str:
        """``layer[feature_id]``, or ``layer`` for a layer-wide problem."""
        return f"{self.layer}[{self.feature_id}]" if self.feature_id else self.layer

    def __str__(self) -> str:
        extra = []
        if self.lon is not None and self.lat is not None and math.isfinite(self.lon) and math.isfinite(self.lat):
            extra.append(f"at {self.lon:.5f} {self.lat:.5f}")
        if self.area_m2 is not None:
            extra.append(f"{self.area_m2:,.0f} m²" if self.area_m2 >= 10 else f"{self.area_m2:.2f} m²")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{self.where()}: {self.message}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """Every field, for JSON (``lon``/``lat``/``area_m2`` may be ``None`` or NaN)."""
        return asdict(self)


_POINT_IN_REASON = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


def reason_location(reason: str) -> tuple[float | None, float | None]:
    """The ``[x y]`` GEOS puts in ``is_valid_reason`` (``Self-intersection[122.3158 29.9774]``), if any."""
    m = _POINT_IN_REASON.search(reason)
    if not m:
        return None, None
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return None, None


_MAX_LINES = 100


class GeoValidationError(ValueError):
    """Every error found in a data set, raised once (warnings ride along in ``.problems``)."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error] or self.problems
        shown = [f"  - {p}" + (f"  [{p.file}]" if p.file and p.file != source else "") for p in errors[:_MAX_LINES]]
        if len(errors) > _MAX_LINES:  # the full list stays in .problems
            shown.append(f"  … and {len(errors) - _MAX_LINES} more")
        super().__init__(f"{source}: {len(errors)} problem(s)\n" + "\n".join(shown))


class ConfigError(ValueError):
    """Every problem of a config file (``onescreen.toml``), raised once."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))
