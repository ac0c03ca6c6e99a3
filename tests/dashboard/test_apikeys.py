"""API keys and HTTP hardening without a server: the key store on the real test Redis (hashed, shown once,
revocable, rate-limited with a batch counting its items), the actor a Bearer header resolves to, the machine
routes a key may reach, an area-scoped key's points, the Host allow-list, the CSP and the cross-origin rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import redis

from dashboard.access.accounts import AccountError
from dashboard.access.actor import ANONYMOUS, Actor
from dashboard.access.apikeys import ApiKeys, digest_of
from dashboard.access.gate import same_origin
from dashboard.access.headers import content_security_policy, host_allow_list
from dashboard.access.machine import machine_action, outside_areas
from dashboard.access.service import Access
from dashboard.runtime import Geo, load_geo
from dashboard.settings import Settings
from incidents.keys import Keys


@pytest.fixture(scope="module")
def geo() -> Geo:
    return load_geo(Settings.from_env())


def _scope(headers: dict[str, str]) -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": "POST", "path": "/api/incidents", "query_string": b"", "headers": raw}


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _all_values(r: redis.Redis, keys: Keys) -> bytes:
    """Every key name and hash/string value under the test's prefix, concatenated."""
    out: list[bytes] = []
    for k in r.scan_iter(match=f"{keys.prefix}:*"):
        kind = r.type(k)
        if kind == b"hash":
            out += [_b(v) for pair in r.hgetall(k).items() for v in pair]
        elif kind == b"string":
            out.append(_b(r.get(k) or b""))
        out.append(_b(k))
    return b" ".join(out)


def test_a_key_is_shown_once_stored_hashed_and_revocable(r: redis.Redis, keys: Keys) -> None:
    store = ApiKeys(r, keys, limit=10, window_s=60)
    key, token = store.create("erp", "ingest")
    assert token.startswith("osk_") and len(token) > 40 and (key.name, key.scope, key.areas) == ("erp", "ingest", ())
    assert token.encode() not in _all_values(r, keys) and digest_of(token).encode() in _all_values(r, keys)
    assert store.resolve(token) == key and store.resolve(token + "x") is None and store.resolve("nope") is None
    with pytest.raises(AccountError, match="exists"):
        store.create("erp", "read")
    with pytest.raises(AccountError, match="unknown scope"):
        store.create("bi", "write")
    assert [k.name for k in store.all()] == ["erp"]
    store.revoke("erp")
    assert store.resolve(token) is None and store.all() == []
    with pytest.raises(AccountError, match="no API key"):
        store.revoke("erp")
    _, again = store.create("erp", "read")  # a new key under the old name: the old one stays dead
    assert store.resolve(token) is None and store.resolve(again) is not None


def test_the_rate_limit_counts_units_per_key_and_a_refused_batch_costs_nothing(r: redis.Redis, keys: Keys) -> None:
    store = ApiKeys(r, keys, limit=10, window_s=60)
    now = 6_000_000.0  # the start of a window
    assert store.charge("erp", 8, now) == 0
    retry = store.charge("erp", 5, now + 15)  # a batch of 5 over the 2 left: refused whole
    assert retry == 45
    assert store.charge("erp", 2, now + 15) == 0  # ... and it was not counted
    assert store.charge("erp", 1, now + 16) == 45 - 1
    assert store.charge("other", 10, now + 16) == 0  # per key
    assert store.charge("erp", 1, now + 61) == 0  # the next window


def test_a_bearer_header_alone_decides_and_revocation_holds_after_the_cache(r: redis.Redis, keys: Keys) -> None:
    access = Access(Settings.from_env(), r, keys)
    _, token = access.apikeys.create("bi", "read", ("community:C003",))
    actor = access.actor_for(_scope({"Authorization": f"Bearer {token}"}))
    assert actor == Actor("key", "bi", None, ("community:C003",), "api-key", "read")
    assert actor.label() == "key:bi"
    # a wrong key is anonymous even beside a (would-be) session cookie: no fall-back
    assert access.actor_for(_scope({"Authorization": "Bearer osk_wrong", "Cookie": "x_session=y"})) == ANONYMOUS
    assert access.actor_for(_scope({"Authorization": f"Basic {token}"})) == ANONYMOUS
    access.apikeys.revoke("bi")
    assert access.actor_for(_scope({"Authorization": f"Bearer {token}"}), fresh=True) == ANONYMOUS


def test_keys_reach_the_machine_routes_only() -> None:
    ingest = [("POST", "/api/incidents"), ("POST", "/api/incidents/batch"), ("POST", "/open311/v2/requests.xml")]
    read = [
        ("GET", "/api/summary"),
        ("GET", "/api/areas"),
        ("HEAD", "/api/incidents/I1"),
        ("GET", "/api/briefing.png"),
        ("GET", "/open311/v2/requests.json"),
        ("GET", "/open311/discovery.json"),
        ("GET", "/metrics"),
    ]
    nothing = [
        ("GET", "/"),
        ("GET", "/wall"),
        ("POST", "/_dash-update-component"),
        ("GET", "/_dash-layout"),
        ("GET", "/healthz"),
        ("POST", "/login"),
        ("GET", "/api/incidents/batch"),
        ("DELETE", "/api/incidents/I1"),
        ("POST", "/open311/v2/services.json"),
    ]
    assert {machine_action(m, p) for m, p in ingest} == {"ingest"}
    assert {machine_action(m, p) for m, p in read} == {"read"}
    assert {machine_action(m, p) for m, p in nothing} == {None}


def test_an_area_key_places_every_point_of_an_item(geo: Geo) -> None:
    tree, index = geo.areas, geo.index
    grids = geo.layers.grids
    inside_c3 = grids[grids["community_id"] == "C003"].geometry.iloc[0].representative_point()
    elsewhere = grids[grids["community_id"] != "C003"].geometry.iloc[0].representative_point()
    a, b = (inside_c3.x, inside_c3.y), (elsewhere.x, elsewhere.y)
    items = [[a], [b], [a, b], [], [(0.0, 0.0)]]
    assert outside_areas(items, ["community:C003"], tree, index.locate) == [False, True, True, False, True]
    street = tree.path("community:C003")[1].ref
    assert outside_areas(items[:2], [street], tree, index.locate)[0] is False
    assert outside_areas(items, [], tree, index.locate) == [False] * 5
    assert np.all(index.locate(np.array([a[0]]), np.array([a[1]]))["community_id"] == "C003")


def test_the_host_allow_list_and_the_csp() -> None:
    local = host_allow_list(Settings.from_env(host="127.0.0.1", allowed_hosts="screen.gov.example"))
    assert local == ["localhost", "127.0.0.1", "::1", "screen.gov.example"]
    assert "10.0.0.5" in host_allow_list(Settings.from_env(host="10.0.0.5"))
    csp = content_security_policy(["'sha256-abc'"], "https://t0.tianditu.gov.cn/DataServer?x={x}&y={y}&l={z}")
    assert "script-src 'self' 'sha256-abc';" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self' https://t0.tianditu.gov.cn" in csp
    with pytest.raises(ValueError, match="ONESCREEN_ALLOWED_HOSTS"):
        Settings.from_env(allowed_hosts="bad host/")


def test_a_cookie_write_must_come_from_our_own_origin() -> None:
    host = {"Host": "127.0.0.1:8050"}
    assert same_origin(_scope({**host, "Origin": "http://127.0.0.1:8050"}))
    assert same_origin(_scope(host))  # no Origin, no Referer: no browser's cross-site request
    assert not same_origin(_scope({**host, "Origin": "http://127.0.0.1:9999"}))
    assert not same_origin(_scope({**host, "Origin": "null"}))
    assert not same_origin(_scope({**host, "Referer": "http://evil.example/page"}))
