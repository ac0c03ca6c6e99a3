"""Masking of personal data for screens and exports: 张三明 → 张*明, 13812341234 → 138****1234. Pure."""

from __future__ import annotations

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


def _stars(index: pd.Index, counts: pd.Series) -> pd.Series:
    reps = counts.fillna(0).clip(lower=0).astype(int).tolist()
    return pd.Series("*", index=index, dtype="string").str.repeat(reps)


def mask_names(names: pd.Series) -> pd.Series:
    """Vectorised :func:`mask_name`; missing values stay missing."""
    s = names.astype("string")
    n = s.str.len()
    masked = s.str[0] + _stars(s.index, (n - 2).clip(lower=1)) + s.str[-1].where(n > 2, "")
    return masked.where(n > 1, s)


def mask_phones(phones: pd.Series) -> pd.Series:
    """Vectorised :func:`mask_phone`; missing values stay missing."""
    raw = phones.astype("string")
    digits = raw.str.replace(r"\D", "", regex=True)
    cc = raw.str.strip().str.startswith("+86") & (digits.str.len() > 11)
    digits = digits.where(~cc, digits.str[2:])
    n = digits.str.len()
    long = digits.str[:3] + _stars(raw.index, n - 7) + digits.str[-4:]
    short = _stars(raw.index, n - 2) + digits.str[-2:].where(n >= 2, digits)
    return long.where(n >= 8, short)
