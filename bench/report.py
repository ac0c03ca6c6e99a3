"""Bench results: one ``Measurement`` per row, printed as a table and written as JSON.

Every budget is judged on a ratio against a baseline measured in the same run where the design says so (the
machine is small and noisy); absolute aims are reported next to it. ``passed`` is ``None`` for rows that only
inform (no budget), ``False`` also for rows whose measurement failed (``error`` set).
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Measurement:
    family: str  # "point→grid", "ingest", …
    name: str  # what was measured, short
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None  # defined per row; the budget text says which way is better
    budget: str = ""  # human text, e.g. "≤ 5 ms" or "ratio ≥ 1.0"
    passed: bool | None = None  # None: informative only
    note: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.passed is None:
            return "info"
        return "PASS" if self.passed else "FAIL"


def failed(family: str, name: str, exc: BaseException) -> Measurement:
    """A row for a measurement that could not be taken (the run goes on)."""
    return Measurement(family, name, None, "", passed=False, error=f"{type(exc).__name__}: {exc}")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


def fmt_num(v: float | None, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    av = abs(v)
    if unit == "B":
        if av >= 1024 * 1024:
            return f"{v / 1024 / 1024:.2f} MB"
        if av >= 1024:
            return f"{v / 1024:.1f} KB"
        return f"{v:.0f} B"
    if av >= 100_000:
        s = f"{v:,.0f}"
    elif av >= 100:
        s = f"{v:.0f}"
    elif av >= 10:
        s = f"{v:.1f}"
    elif av >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3f}"
    return f"{s} {unit}".strip()


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


HEADERS = ("family", "measurement", "value", "baseline", "ratio", "budget", "result")


def rows(results: Sequence[Measurement]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for m in results:
        base = fmt_num(m.baseline, m.extra.get("baseline_unit", m.unit))
        if m.baseline_name and m.baseline is not None:
            base = f"{base} ({m.baseline_name})"
        out.append((m.family, m.name, fmt_num(m.value, m.unit), base, fmt_ratio(m.ratio), m.budget or "—", m.verdict))
    return out


def table(results: Sequence[Measurement]) -> str:
    """A plain-text table (monospace), then the notes and errors underneath."""
    body = rows(results)
    widths = [max(_width(h), *(_width(r[i]) for r in body)) if body else _width(h) for i, h in enumerate(HEADERS)]
    line = "  ".join(_pad(h, w) for h, w in zip(HEADERS, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)) for r in body]
    notes = [f"  [{m.family}] {m.name}: {m.note}" for m in results if m.note]
    errors = [f"  [{m.family}] {m.name}: {m.error}" for m in results if m.error]
    if notes:
        out += ["", "notes:", *notes]
    if errors:
        out += ["", "errors:", *errors]
    return "\n".join(out)


def _width(s: str) -> int:
    """Display width: CJK and other wide characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


def summary(results: Iterable[Measurement]) -> dict[str, int]:
    counts = {"PASS": 0, "FAIL": 0, "ERROR": 0, "info": 0}
    for m in results:
        counts[m.verdict] += 1
    return counts


def write_json(results: Sequence[Measurement], path: Path, *, meta: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()},
        **meta,
        "summary": summary(results),
        "results": [{**asdict(m), "verdict": m.verdict} for m in results],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8")
    tmp.replace(path)
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
