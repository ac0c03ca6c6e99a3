"""Fictional Chinese names, place names and phone numbers (vectorised, seeded)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Strs = npt.NDArray[np.str_]

# Common surnames with rough relative frequencies; combined with random given-name characters the
# resulting names are generic and fictional.
_SURNAMES = np.array(
    list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢钟姜崔谭陆范汪"
    )
)
_SURNAME_W = np.linspace(3.0, 0.6, len(_SURNAMES))
_GIVEN = np.array(
    list(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏辉建国志文斌宇浩凯欣怡佳雨晨"
        "子涵梓轩宁静思远晓东海燕春林云飞雪婷丹慧琳嘉俊博然鑫瑶瑞琪雅倩晶婧宏亮立新卫忠德永和"
    )
)
# Place-name syllables for fictional community / village / company names.
_PLACE_A = np.array(list("桂枫柳荷兰竹梅溪湖塘港桥湾岸锦绣瑞和安宁新华明清泉潮江沙洲浦石山茶桑禾翠碧金银星月云霞"))
_PLACE_B = np.array(list("溪湖塘港桥湾园苑庭景源泽岭坞畈浜埠墩田林里庄湖境苑汀洲渚坪"))
_PHONE_PREFIX = np.array(["13", "15", "17", "18", "19"])


def person_names(rng: np.random.Generator, n: int) -> Strs:
    """``n`` fictional names: surname + one or two given-name characters (about 70 % two)."""
    sur = _SURNAMES[rng.choice(len(_SURNAMES), n, p=_SURNAME_W / _SURNAME_W.sum())]
    g1 = _GIVEN[rng.integers(0, len(_GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.7, _GIVEN[rng.integers(0, len(_GIVEN), n)], "")
    return np.char.add(np.char.add(sur, g1), g2)


def phones(rng: np.random.Generator, n: int) -> Strs:
    """``n`` fictional 11-digit mobile numbers (random digits after a 1x prefix)."""
    prefix = _PHONE_PREFIX[rng.integers(0, len(_PHONE_PREFIX), n)]
    rest = np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9)
    return np.char.add(prefix, rest)


def place_names(rng: np.random.Generator, n: int, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``n`` distinct two-character fictional place names (more syllables once the pairs run out)."""
    pairs = np.char.add(np.repeat(_PLACE_A, len(_PLACE_B)), np.tile(_PLACE_B, len(_PLACE_A)))
    pairs = np.array([p for p in pairs if p[0] != p[1] and p not in exclude])
    if n <= len(pairs):
        return [str(p) for p in pairs[rng.permutation(len(pairs))[:n]]]
    triples = np.char.add(pairs[rng.integers(0, len(pairs), 4 * n)], _PLACE_A[rng.integers(0, len(_PLACE_A), 4 * n)])
    out = list(dict.fromkeys([str(p) for p in pairs[rng.permutation(len(pairs))]] + [str(t) for t in triples]))
    if len(out) < n:
        raise ValueError(f"cannot make {n} distinct place names")
    return out[:n]
