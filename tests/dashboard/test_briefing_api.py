"""GET /api/briefing.png on a real server: the hub's briefing frame through the warm kaleido browser."""

from __future__ import annotations

import json
import urllib.request

import pytest

from dashboard.snapshot import png_size
from tests.support.server import LiveServer


@pytest.mark.browser
def test_briefing_png_is_drawn_from_the_hubs_frame(live_server: LiveServer) -> None:
    for lang in ("zh", "en"):
        with urllib.request.urlopen(f"{live_server.url}/api/briefing.png?lang={lang}", timeout=120) as resp:
            assert resp.headers["content-type"] == "image/png"
            assert png_size(resp.read()) == (1920, 1080)
    with urllib.request.urlopen(live_server.url + "/healthz", timeout=30) as resp:
        contexts = json.loads(resp.read())["live"]["contexts"]
    assert {"briefing.zh.u", "briefing.en.u"} <= set(contexts)  # an admin: unmasked


def test_an_unknown_language_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{live_server.url}/api/briefing.png?lang=fr", timeout=30)
    assert err.value.code == 422


@pytest.mark.browser
def test_a_briefing_of_one_community_is_drawn_from_that_communitys_frame(live_server: LiveServer) -> None:
    with urllib.request.urlopen(live_server.url + "/api/areas", timeout=30) as resp:
        comm = next(a["ref"] for a in json.loads(resp.read())["areas"] if a["kind"] == "community")
    with urllib.request.urlopen(f"{live_server.url}/api/briefing.png?area={comm}", timeout=120) as resp:
        assert png_size(resp.read()) == (1920, 1080)
    with urllib.request.urlopen(live_server.url + "/healthz", timeout=30) as resp:
        contexts = json.loads(resp.read())["live"]["contexts"]
    assert f"briefing.zh.a={comm}.u" in contexts


@pytest.mark.parametrize(("area", "code"), [("community:NOPE", 404), ("nonsense", 422)])
def test_a_briefing_of_an_unknown_area_is_refused(live_server: LiveServer, area: str, code: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{live_server.url}/api/briefing.png?area={area}", timeout=30)
    assert err.value.code == code
