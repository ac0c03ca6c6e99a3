from __future__ import annotations

import pytest

from geo.privacy import mask_name, mask_phone, plotly_text, scrub_text, snap_cell_m, snap_positions


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


# ---- free text (geo.privacy.scrub_text) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("王女士电话13812345678，说楼道堆物", "王女士电话138****5678，说楼道堆物"),
        ("联系人：张先生 138 1234 5678", "联系人：张先生 138****5678"),
        ("手机：１３８－１２３４－５６７８，家住幸福里", "手机：138****5678，家住幸福里"),  # full-width digits and －
        ("+86 139-0000-1111 请回电", "139****1111 请回电"),
        ("＋８６１３９００００１１１１", "139****1111"),
        ("座机0571-88881234转分机", "座机0571-****1234转分机"),
        ("电话（0571）8888 1234", "电话0571-****1234"),
        ("北京010 6666 1234", "北京010-****1234"),
        ("联系电话：8888 1234", "联系电话：****1234"),
        ("身份证330106199001011234，需核实", "身份证33***************4，需核实"),
        ("身份证号 330106 19900101 123X", "身份证号 33***************X"),
        ("证件：３３０１０６１９９００１０１１２３Ｘ。", "证件：33***************X。"),  # full-width digits and Ｘ
        ("老身份证330106900101123", "老身份证33************3"),
        ("卡号 4111 1111 1111 1111 押金", "卡号 ************1111 押金"),  # passes Luhn: a card
        ("6222020200112233446 工资卡", "***************3446 工资卡"),
    ],
)
def test_scrub_text_masks_phones_ids_and_cards_in_chinese_text(text: str, scrubbed: str) -> None:
    assert scrub_text(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "3号楼2单元502室漏水",
        "2024年10月1日上午9:30",
        "金额12345678元",  # a bare 8-digit run: no word says it is a phone
        "订单号1234567890123456",  # 16 digits failing the Luhn check: no card, and no phone inside it either
        "快递单号 SF1234567890",
        "",
        "楼道堆物，无数字",
    ],
)
def test_scrub_text_leaves_other_numbers_alone(text: str) -> None:
    assert scrub_text(text) == text


def test_no_digit_of_a_masked_number_survives_in_a_longer_text() -> None:
    text = "王某（身份证330106199001011234，手机13812345678）投诉：0571-88881234 无人接听"
    out = scrub_text(text)
    for secret in ("199001011234", "12345678", "88881234", "3301061990"):
        assert secret not in out, out


def test_plotly_text_escapes_markup() -> None:
    title = '<span style="font-size:300px">大字</span><br><b>x</b> & y'
    out = plotly_text(title)
    assert "<" not in out and ">" not in out
    assert out == '&lt;span style="font-size:300px"&gt;大字&lt;/span&gt;&lt;br&gt;&lt;b&gt;x&lt;/b&gt; &amp; y'


def test_snapped_positions_lie_within_half_a_cell_diagonal_and_are_stable() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    lon = 120.15 + rng.random(500) * 0.05
    lat = 30.25 + rng.random(500) * 0.05
    x, y = snap_positions(lon, lat)
    m = np.hypot((x - lon) * 111_320 * np.cos(np.radians(lat)), (y - lat) * 111_320)
    assert m.max() <= snap_cell_m() + 1.0 and m.max() > 10  # moved, by at most ~71 m
    x2, y2 = snap_positions(lon, lat)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert len(set(zip(x.round(7), y.round(7), strict=True))) < 500  # neighbours share a cell
