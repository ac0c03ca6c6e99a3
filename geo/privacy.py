"""Personal data on the way out: the one module that owns the masking rules. Pure (no Dash, no Redis).

- ``mask_name`` / ``mask_phone``: a field known to be a name or phone (张三明 → 张*明, 13812341234 → 138****1234).
- ``scrub_text``: free text (titles, descriptions, addresses) with the identifiers a resident may type into it
  masked — mainland mobile and landline numbers, 18- and 15-digit resident ID numbers, bank-card numbers (see
  ``scrub_text`` for the exact patterns). Used for every output a role may not see unmasked (``may_see_unmasked`` is
  decided by the caller: ``dashboard.access.policy.can(actor, "unmasked")``; the wall is always masked).
- ``plotly_text``: text escaped for Plotly, which reads ``<br>``, ``<b>``, ``<span style=…>`` in any string it draws
  (hover labels, annotations, the PNG); escaped, a ``<span style="font-size:300px">`` title shows as those characters.
- ``snap_positions``: member positions on the wall, snapped to the centres of a ~100 m grid.
"""

from __future__ import annotations

import html
import math
import re
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd


def mask_name(name: str) -> str:
    """Keep the first and last character: 张三明 → 张*明, 欧阳小明 → 欧**明, 张三 → 张*, 张 → 张."""
    n = len(name)
    if n <= 1:
        return name
    if n == 2:
        return name[0] + "*"
    return name[0] + "*" * (n - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits: 13812341234 → 138****1234; shorter than 8 characters → all but
    the last 2 masked; ``+86`` and separators are dropped first."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+86") and len(digits) > 11:
        digits = digits[2:]
    n = len(digits)
    if n >= 8:
        return digits[:3] + "*" * (n - 7) + digits[-4:]
    return "*" * max(n - 2, 0) + digits[max(n - 2, 0) :]


# ---- free text ---------------------------------------------------------------------------------------------------

# A digit as residents type it: ASCII or full-width (０-９, what a Chinese IME gives in full-width mode).
_D: Final = "[0-9\uff10-\uff19]"
_D1: Final = "[1-9\uff11-\uff19]"  # a first digit that is not 0
# One separator inside a number: spaces (also the ideographic space), hyphens and dashes (ASCII, full-width －,
# Unicode dashes), dots (. ．) and the middle dot.
_SEP: Final = "[ \u3000\\-\u2010\u2011\u2012\u2013\u2014\uff0d.\uff0e\u00b7]"
_S: Final = f"{_SEP}?"
_NOT_DIGIT_BEFORE: Final = "(?<![0-9\uff10-\uff19])"
_NOT_DIGIT_AFTER: Final = "(?![0-9\uff10-\uff19])"
_PLUS86: Final = f"(?:[+\uff0b](?:86|\uff18\uff16){_S})?"
_FULLWIDTH: Final = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

# 18-digit resident ID (GB 11643): area (6), birth date YYYYMMDD (19xx/20xx; 18xx too), sequence (3), check (0-9/X);
# written whole or grouped 6-8-4.
_ID18: Final = re.compile(
    _NOT_DIGIT_BEFORE
    + f"{_D1}{_D}{{5}}{_S}(?:18|19|20|\uff11\uff18|\uff11\uff19|\uff12\uff10){_D}{{2}}{_D}{{4}}{_S}{_D}{{3}}"
    + "[0-9\uff10-\uff19Xx\uff38\uff58]"
    + _NOT_DIGIT_AFTER
)
# 15-digit first-generation ID (before 1999): area (6), YYMMDD, sequence (3).
_ID15: Final = re.compile(_NOT_DIGIT_BEFORE + f"{_D1}{_D}{{5}}{_S}{_D}{{6}}{_S}{_D}{{3}}" + _NOT_DIGIT_AFTER)
# Mainland mobile: 1[3-9]x, 11 digits, grouped 3-4-4 or whole, optionally after +86.
_MOBILE: Final = re.compile(
    _NOT_DIGIT_BEFORE + _PLUS86 + f"(?:1|\uff11)[3-9\uff13-\uff19]{_D}{_S}{_D}{{4}}{_S}{_D}{{4}}" + _NOT_DIGIT_AFTER
)
# Landline with its area code: 0 + 2-3 digits (010, 0571), in brackets or followed by a separator or not, then a
# 7-8 digit local number (grouped 3-4 / 4-4 or whole), an optional extension (转123 / -123 is left as it is).
_LANDLINE: Final = re.compile(
    _NOT_DIGIT_BEFORE
    + f"(?:[(（](?:0|\uff10){_D}{{2,3}}[)）]|(?:0|\uff10){_D}{{2,3}}){_S}{_D}{{3,4}}{_S}{_D}{{4}}"
    + _NOT_DIGIT_AFTER
)
# A local number without area code is only taken as a phone when a word says so (电话/手机/联系/tel/phone…):
# 7-8 digits alone are as often amounts, dates or house numbers.
_LOCAL_AFTER_WORD: Final = re.compile(
    "((?:电话|手机|座机|联系方式|联系电话|号码|tel|phone)[:：\\s]*)" + f"({_D}{{3,4}}{_S}{_D}{{4}})" + _NOT_DIGIT_AFTER,
    re.IGNORECASE,
)
# Bank-card numbers: 16-19 digits, whole or in groups of 4, that pass the Luhn check (order and parcel numbers of
# that length mostly do not, and are left alone).
_CARD: Final = re.compile(_NOT_DIGIT_BEFORE + f"{_D}{{4}}(?:{_S}{_D}{{4}}){{3}}(?:{_S}{_D}{{1,3}})?" + _NOT_DIGIT_AFTER)


def _digits(text: str) -> str:
    return "".join(ch for ch in text.translate(_FULLWIDTH) if ch.isdigit() or ch in "Xx")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _id_mask(m: re.Match[str]) -> str:
    d = _digits(m.group(0)).upper()
    return d[:2] + "*" * (len(d) - 3) + d[-1]


def _mobile_mask(m: re.Match[str]) -> str:
    d = _digits(m.group(0))
    d = d[-11:]  # without the 86
    return d[:3] + "****" + d[-4:]


def _landline_mask(m: re.Match[str]) -> str:
    text = m.group(0).translate(_FULLWIDTH)
    d = _digits(text)
    area_len = 3 if d[:2] in ("01", "02") else 4  # 010, 02x: 3 digits; the others 4
    return d[:area_len] + "-" + "*" * (len(d) - area_len - 4) + d[-4:]


def _local_mask(m: re.Match[str]) -> str:
    d = _digits(m.group(2))
    return m.group(1) + "*" * (len(d) - 4) + d[-4:]


def _card_mask(m: re.Match[str]) -> str:
    d = _digits(m.group(0))
    return "*" * (len(d) - 4) + d[-4:]


_KEPT: Final = re.compile("\ue000(\\d+)\ue001")  # a run set aside while the other rules run (private-use marks)

# Longest and most specific first: an ID holds an 11-digit run that would read as a phone.
_RULES: Final = (
    (_ID18, _id_mask),
    (_ID15, _id_mask),
    (_MOBILE, _mobile_mask),
    (_LANDLINE, _landline_mask),
    (_LOCAL_AFTER_WORD, _local_mask),
)


@lru_cache(maxsize=65_536)
def scrub_text(text: str) -> str:
    """``text`` with phone, ID-card and bank-card numbers masked; everything else as it was.

    Matched (ASCII or full-width digits ０-９, separators: spaces incl. the ideographic space, hyphens/dashes
    incl. －, dots, ·; a number must not touch another digit on either side):

    - 18-digit resident ID (area, birth date 18xx-20xx, sequence, check digit 0-9/X; whole or 6-8-4)
      → ``33***************X`` (province and check digit kept);
    - 15-digit old ID (area, YYMMDD, sequence) → the same shape;
    - bank-card numbers: 16-19 digits whole or in groups of 4 that pass the Luhn check → ``************1234``;
    - mobile: 11 digits starting 13-19, optional ``+86``/``＋８６``, whole or 3-4-4 → ``138****1234``;
    - landline with area code: ``0571-88881234``, ``(0571)8888 1234``, ``010 8888 1234`` → ``0571-****1234``;
    - a 7-8 digit local number right after 电话/手机/座机/联系方式/号码/tel/phone → ``****1234``.

    Not matched, on purpose: bare 7-8 digit runs (amounts, dates, house numbers), 12+ digit runs that are none of
    the above (order numbers). Masked digits come out as ASCII. Cached: the same title is scrubbed once.
    """
    if not text or not any(ch.isdigit() for ch in text):
        return text
    text = _ID18.sub(_id_mask, text)
    kept: list[str] = []

    def card(m: re.Match[str]) -> str:
        if _luhn(_digits(m.group(0))):
            return _card_mask(m)
        kept.append(m.group(0))  # a long run that is no card (an order number): no part of it is a phone either
        return f"\ue000{len(kept) - 1}\ue001"

    text = _CARD.sub(card, text)
    for pattern, mask in _RULES[1:]:
        text = pattern.sub(mask, text)
    return _KEPT.sub(lambda m: kept[int(m.group(1))] if int(m.group(1)) < len(kept) else m.group(0), text)


def plotly_text(text: str) -> str:
    """``text`` escaped for Plotly's text rendering (``& < >`` as entities): drawn as the characters typed, never
    as Plotly's ``<br>``/``<b>``/``<span style>`` markup."""
    return html.escape(text, quote=False)


def plotly_texts(text: pd.Series) -> pd.Series:
    """``plotly_text`` over a column of strings, vectorised."""
    return (
        text.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
    )


# ---- positions ---------------------------------------------------------------------------------------------------

SNAP_M: Final = 100.0
_M_PER_DEG: Final = 111_320.0


def snap_positions(
    lon: npt.ArrayLike, lat: npt.ArrayLike, cell_m: float = SNAP_M
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(lon, lat) arrays (WGS-84 degrees) moved to the centre of the ``cell_m`` × ``cell_m`` metre cell they lie in.

    Why a fixed grid and not the micro-grid centroid: a member stays on the map where they are on duty, about a
    block away at most (half a diagonal: ~71 m for 100 m cells), while the exact doorway is gone; a micro-grid's
    centroid would pile every member of a micro-grid on one point and move some of them hundreds of metres, into
    another grid. The grid is anchored at 0°/0° with the metres-per-degree of the whole degree of latitude the
    points lie in, so a member's snapped position is the same on every frame and every screen (no jitter to
    average away). NaN stays NaN.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    dlat = cell_m / _M_PER_DEG
    with np.errstate(invalid="ignore"):
        ref_lat = np.floor(y) + 0.5
        dlon = cell_m / (_M_PER_DEG * np.cos(np.radians(ref_lat)))
        sx = (np.floor(x / dlon) + 0.5) * dlon
        sy = (np.floor(y / dlat) + 0.5) * dlat
    return sx, sy


def snap_cell_m(cell_m: float = SNAP_M) -> float:
    """The largest distance (metres) a snapped position lies from the true one: half the cell's diagonal."""
    return cell_m * math.sqrt(2) / 2
