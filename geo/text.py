"""Decoded text that went wrong: mojibake scoring and the warnings about it (pure; no I/O).

``mojibake_score`` rates decoded text: the share of its non-ASCII characters that are U+FFFD, Latin-1/Latin-Extended
letters (GBK or UTF-8 read as Latin-1), C1 controls, private-use characters, box drawing, or CJK characters outside
the script's common set (UTF-8 read as GBK gives ``缃戞牸``, a mix of rare simplified and traditional characters;
real names are almost all inside GB2312, the 6,763 common hanzi of GB/T 2312-1980, or, written in traditional
script, all inside Big5: then the GB2312 test is waived). ``geo.io.encoding`` uses it to choose a DBF's
encoding; ``text_problems`` to warn about columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from geo.problems import Problem

MOJIBAKE_THRESHOLD = 0.3  # share of suspicious characters above which a text column is reported
REPLACEMENT = "\ufffd"  # what a decoder puts for a character it cannot decode (or one cut in half)


def _suspicious(ch: str) -> bool:
    """Suspicious in any script: U+FFFD, Latin-1/Latin-Extended letters, C1 controls, private use, box drawing."""
    o = ord(ch)
    return ch == REPLACEMENT or 0x80 <= o <= 0x24F or 0xE000 <= o <= 0xF8FF or 0x2500 <= o <= 0x259F


def _outside(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
    except UnicodeEncodeError:
        return True
    return False


def mojibake_score(texts: Iterable[str]) -> float:
    """Share of suspicious characters among the non-ASCII characters of ``texts`` (0 when all ASCII)."""
    n = bad = not_gb = not_big5 = 0
    for text in texts:
        for ch in text:
            if ord(ch) > 0x7F:
                n += 1
                bad += _suspicious(ch)
                if 0x3400 <= ord(ch) <= 0x9FFF:  # CJK: real text keeps to one script's common set
                    not_gb += _outside(ch, "gb2312")
                    not_big5 += _outside(ch, "big5")
    return (bad + (not_gb if not_big5 else 0)) / n if n else 0.0  # all in Big5: traditional text, not mojibake


def text_problems(frame: pd.DataFrame, layer: str, file: str, renamed: Mapping[str, str]) -> list[Problem]:
    """Field names cut mid-character (``网格名\\ufffd``) and text columns that read as mojibake.

    ``renamed`` maps the file's column names to ours (to say what a cut name was read as)."""
    out: list[Problem] = []
    for col in frame.columns:
        if isinstance(col, str) and REPLACEMENT in col:
            used = f"read as {renamed[col]!r}" if col in renamed else "map it by that exact name in onescreen.toml"
            out.append(
                Problem(
                    layer,
                    "",
                    f"field name {col!r} is cut mid-character (a Shapefile's 10-byte field-name limit met "
                    f"UTF-8 Chinese): {used}",
                    "truncated_field_name",
                    "warning",
                    file,
                )
            )
    for col in frame.columns:
        if col == "geometry" or not (frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col])):
            continue
        values = [v for v in frame[col].dropna().astype(str).unique()[:500] if v]
        score = mojibake_score(values)
        if score > MOJIBAKE_THRESHOLD:
            sample = next((v for v in values if mojibake_score([v]) > MOJIBAKE_THRESHOLD), values[0])
            out.append(
                Problem(
                    layer,
                    "",
                    f"column {col!r} looks garbled ({score:.0%} suspicious characters, e.g. {sample[:20]!r}): "
                    "wrong encoding? pass --encoding GB18030 (or UTF-8), or add a .cpg file",
                    "mojibake",
                    "warning",
                    file,
                )
            )
    return out
