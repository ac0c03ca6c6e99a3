"""HTTP request bodies (``dashboard.http_body``): Open311 POSTs as form, JSON or multipart; JSON batch arrays."""

from __future__ import annotations

import json

import pytest

from dashboard.http_body import MAX_FIELDS, parse_open311_body, split_json_array
from incidents.open311 import Open311Error
from incidents.wire import WireError


def test_post_form_is_read_as_pairs_in_order() -> None:
    body = b"service_code=fire&lat=30.3&long=120.2&attribute%5Bfloor%5D=3&description=%E7%81%AB&x="
    assert parse_open311_body(body, "application/x-www-form-urlencoded; charset=utf-8") == [
        ("service_code", "fire"),
        ("lat", "30.3"),
        ("long", "120.2"),
        ("attribute[floor]", "3"),
        ("description", "火"),
        ("x", ""),
    ]
    assert parse_open311_body(body, "") == parse_open311_body(body, "application/x-www-form-urlencoded")
    too_many = "&".join(f"f{i}=1" for i in range(MAX_FIELDS + 1)).encode()
    with pytest.raises(Open311Error) as err:
        parse_open311_body(too_many, "")
    assert err.value.code == 400


def test_post_bodies_json_multipart_and_unsupported() -> None:
    j = parse_open311_body(
        json.dumps({"service_code": "fire", "lat": 30.3, "long": 120.2, "attribute": {"floor": 3}}).encode(),
        "application/json",
    )
    assert j == [("service_code", "fire"), ("lat", "30.3"), ("long", "120.2"), ("attribute[floor]", "3")]
    boundary = "XyZ"
    parts = [("service_code", "traffic"), ("lat", "30.3"), ("long", "120.2"), ("description", "违停")]
    body = (
        "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in parts)
        + f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n\r\nJPEG\r\n'
        + f"--{boundary}--\r\n"
    )
    assert parse_open311_body(body.encode(), f"multipart/form-data; boundary={boundary}") == parts
    with pytest.raises(Open311Error) as err:
        parse_open311_body(b"<x/>", "text/xml")
    assert err.value.code == 400 and "unsupported content type" in err.value.description
    with pytest.raises(Open311Error):
        parse_open311_body(b"\xff\xfe", "application/x-www-form-urlencoded")


def test_split_json_array_keeps_each_element_as_sent() -> None:
    assert split_json_array(b' [ {"id":"a"} , "x",{"id": "\\ud83d"}]') == ['{"id":"a"}', '"x"', '{"id": "\\ud83d"}']
    assert split_json_array(b"[]") == []
    for bad, needle in ((b'{"id":1}', "JSON array"), (b"[1,", "invalid JSON"), (b"[1] x", "extra data")):
        with pytest.raises(WireError, match=needle):
            split_json_array(bad)
    assert json.loads(split_json_array(b'[{"a": [1, {"b": 2}]}]')[0]) == {"a": [1, {"b": 2}]}
