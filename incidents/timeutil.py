"""Time helpers: epoch seconds inside, ISO 8601 (+08:00) at the edges.

Everything inside the program is epoch seconds UTC (``float``). The wire accepts ISO 8601 *with an offset*
or epoch seconds; screens show Asia/Shanghai. China has had no daylight saving time since 1991, so
Asia/Shanghai is the fixed offset UTC+8 for every time this program handles (>= 2000): we use a fixed
``timezone`` instead of zoneinfo (faster, no tzdata needed).
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "CST")
_OFFSET_S = 8 * 3600
DAY_S = 86400.0


def format_ts(epoch: float, tz: timezone = SHANGHAI, *, timespec: str = "seconds") -> str:
    """Epoch seconds → ISO 8601 with offset, e.g. ``2024-05-01T09:30:00+08:00``.

    ``timespec`` as for ``datetime.isoformat`` (``"seconds"``, ``"milliseconds"``, ...).
    """
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec=timespec)


def parse_ts(value: str | float | int) -> float:
    """ISO 8601 with offset (``Z`` allowed) or epoch seconds → epoch seconds.

    Raises ``ValueError`` (with a readable message) for naive ISO strings (no offset), unparseable strings,
    booleans, and non-finite numbers. Range checks (e.g. "not before 2000") are the caller's business.
    """
    if isinstance(value, bool):
        raise ValueError("expected ISO 8601 string or epoch seconds, got a boolean")
    if isinstance(value, int | float):
        f = float(value)
        if not math.isfinite(f):
            raise ValueError("epoch seconds must be finite")
        return f
    if not isinstance(value, str):
        raise ValueError(f"expected ISO 8601 string or epoch seconds, got {type(value).__name__}")
    s = value.strip()
    if not s or len(s) > 64:
        raise ValueError("empty or over-long time string")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {s[:40]!r}") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"ISO 8601 time without a UTC offset is ambiguous: {s[:40]!r} (add +08:00 or Z)")
    return dt.timestamp()


def local_midnight(now: float) -> float:
    """Epoch seconds of the most recent Asia/Shanghai midnight at or before ``now``."""
    return math.floor((now + _OFFSET_S) / DAY_S) * DAY_S - _OFFSET_S


def local_hour_start(now: float) -> float:
    """Epoch seconds of the start of the (Asia/Shanghai) hour containing ``now`` (offset is whole hours)."""
    return math.floor(now / 3600.0) * 3600.0


_RELATIVE_RE = re.compile(r"^-\s*((?:\d+(?:\.\d+)?\s*[smhd]\s*)+)$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# "+08:00" in a URL query that was not percent-encoded arrives as " 08:00" (a '+' is a space in a query string)
_LOST_PLUS_RE = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def parse_at(text: str, now: float | None = None) -> float:
    """A moment from the command line: ISO 8601 (``2026-11-26T09:00+08:00``; without an offset it is Beijing
    time), epoch seconds, or relative to ``now`` (``-2h``, ``-90m``, ``-1d``, ``-1h30m``, ``-45s``). An offset
    whose ``+`` a URL query turned into a space (``2026-11-26T09:00 08:00``) is read as the ``+`` it was.
    ``ValueError`` for anything else."""
    now = time.time() if now is None else now
    s = _LOST_PLUS_RE.sub(r"\1+\2", text.strip())
    m = _RELATIVE_RE.fullmatch(s)
    if m:
        return now - sum(float(v) * _UNIT_S[u] for v, u in _PART_RE.findall(m.group(1)))
    try:
        return float(s)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (ISO 8601 like 2026-11-26T09:00+08:00, epoch, or -2h)") from None
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.timestamp()
