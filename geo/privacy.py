"""Masking of personal data for screens and exports: 张三明 → 张*明, 13812341234 → 138****1234. Pure."""

from __future__ import annotations


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
