from __future__ import annotations

import pandas as pd
import pytest

from geo.layers import GeoLayers
from geo.privacy import mask_name, mask_names, mask_phone, mask_phones


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三明", "张*明"), ("张三", "张*"), ("张", "张"), ("欧阳小明", "欧**明"), ("", "")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+86 138-1234-1234", "138****1234"),
        ("0571-88881234", "057*****1234"),
        ("12345", "***45"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_vectorised_match_scalar_and_keep_missing() -> None:
    names = pd.Series(["张三明", "张三", "张", "欧阳小明", "", None], index=list("abcdef"))
    out = mask_names(names)
    assert out.index.tolist() == list("abcdef")
    assert out.iloc[:5].tolist() == [mask_name(n) for n in names.iloc[:5]]
    assert pd.isna(out.iloc[5])
    phones = pd.Series(["13812341234", "+86 138-1234-1234", "0571-88881234", "12345", "", None])
    got = mask_phones(phones)
    assert got.iloc[:5].tolist() == [mask_phone(p) for p in phones.iloc[:5]]
    assert pd.isna(got.iloc[5])


def test_masking_is_pure(demo_layers: GeoLayers) -> None:
    members = demo_layers.members
    before = members["name"].copy()
    masked = mask_names(members["name"])
    assert (members["name"] == before).all()
    assert masked.str.contains(r"\*", regex=True).all()
    assert mask_phones(members["phone"]).str.fullmatch(r"1\d\d\*{4}\d{4}").all()
