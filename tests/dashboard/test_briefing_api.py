"""GET /api/briefing.png|.pdf on a real server (warm exporter started with it): every area kind and size, the
refusals, masking for a key, the watermark, missing Chromium — and the 简报 button downloading from the page."""

from __future__ import annotations

import concurrent.futures as cf
import json
import re
import struct
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dashboard.snapshot import png_size
from tests.support.auth import anonymous_opener, api_key
from tests.support.browser import wait_until_live
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

SIZES = {"1920x1080": (1920, 1080), "3840x2160": (3840, 2160), "a4": (2480, 3508)}


@pytest.fixture(scope="module")
def live_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's server, with the exporter warmed at start (the test servers' default is off) and no queue:
    a briefing asked for while another is drawn is refused at once."""
    env = {"ONESCREEN_BRIEFING_WARM": "1", "ONESCREEN_BRIEFING_QUEUE": "0"}
    with spawn_server(redis_url, tmp_path_factory.mktemp("server"), env=env) as server:
        yield server


def _get(url: str, headers: dict[str, str] | None = None, opener: Any = None) -> tuple[bytes, Any]:
    req = urllib.request.Request(url, headers=headers or {})
    with (opener.open if opener else urllib.request.urlopen)(req, timeout=120) as resp:
        return resp.read(), resp.headers


def _code(url: str, **kw: Any) -> tuple[int, dict[str, Any], Any]:
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(url, **kw)
    return err.value.code, json.loads(err.value.read() or b"{}"), err.value.headers


def _areas(server: LiveServer) -> dict[str, dict[str, Any]]:
    """The first area of each kind: {kind: area json}."""
    body, _ = _get(server.url + "/api/areas")
    out: dict[str, dict[str, Any]] = {}
    for a in json.loads(body)["areas"]:
        out.setdefault(a["kind"], a)
    return out


def _health(server: LiveServer) -> dict[str, Any]:
    body, _ = _get(server.url + "/healthz")
    live: dict[str, Any] = json.loads(body)["live"]
    return live


@pytest.mark.browser
def test_the_exporter_is_warm_before_the_first_briefing(live_server: LiveServer) -> None:
    ready = wait_for(
        lambda: (_health(live_server).get("exporter") or {}).get("ready") or None,
        90,
        message="the exporter's browser opened at server start, before any briefing was asked for",
    )
    assert ready is True


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["street", "community", "grid"])
def test_a_briefing_per_area_kind_and_size(live_server: LiveServer, kind: str) -> None:
    area = _areas(live_server)[kind]
    for size, pixels in SIZES.items():
        data, headers = _get(f"{live_server.url}/api/briefing.png?area={area['ref']}&size={size}")
        assert headers["content-type"] == "image/png"
        assert png_size(data) == pixels, size
        disposition = headers["content-disposition"]
        assert disposition.isascii() and f"briefing-{area['ref'].replace(':', '-')}-" in disposition
        assert f"-{size}.png" in disposition
        assert "filename*=UTF-8''" + urllib.parse.quote(f"简报-{area['name']}", safe="") in disposition
    pdf, headers = _get(f"{live_server.url}/api/briefing.pdf?area={area['ref']}")
    assert headers["content-type"] == "application/pdf" and pdf.startswith(b"%PDF")
    assert headers["content-disposition"].startswith("attachment;")
    box = [float(v) for v in re.search(rb"/MediaBox \[([\d. ]+)\]", pdf).group(1).split()]  # type: ignore[union-attr]
    assert box[2:] == pytest.approx([595.3, 841.9], abs=1.5)  # one A4 page, in points
    contexts = _health(live_server)["contexts"]
    assert f"briefing.zh.a={area['ref']}.u" in contexts or kind == "street"  # an admin: unmasked


@pytest.mark.browser
def test_a_briefing_at_a_past_moment_is_named_by_it(live_server: LiveServer) -> None:
    at = "2026-11-30T09:00+08:00"
    data, headers = _get(f"{live_server.url}/api/briefing.png?at={urllib.parse.quote(at)}&lang=en")
    assert png_size(data) == (1920, 1080)
    assert "-20261130-0900-1920x1080.png" in headers["content-disposition"]
    unencoded, _ = _get(f"{live_server.url}/api/briefing.png?at=2026-11-30T09:00+08:00&lang=en")  # "+" → " "
    assert png_size(unencoded) == (1920, 1080)


@pytest.mark.browser
def test_the_watermark_changes_the_picture(live_server: LiveServer) -> None:
    url = f"{live_server.url}/api/briefing.png?at=2026-11-30T09:00%2B08:00"
    plain, _ = _get(url)
    marked, _ = _get(url + "&watermark=1")
    assert png_size(plain) == png_size(marked) == (1920, 1080)
    assert len(marked) > len(plain) * 1.02  # the diagonal text over the whole page: more to compress


@pytest.mark.parametrize(
    ("query", "code", "detail"),
    [
        ("size=800x600", 422, "unknown size"),
        ("at=yesterday", 422, "not a time"),
        ("at=%2B2h", 422, "not a time"),
        ("at=2099-01-01T00:00", 422, "in the future"),
        ("area=community:NOPE", 404, "NOPE"),
        ("area=nonsense", 422, ""),
    ],
)
def test_bad_parameters_are_refused_clearly(live_server: LiveServer, query: str, code: int, detail: str) -> None:
    got, body, _ = _code(f"{live_server.url}/api/briefing.png?{query}")
    assert got == code and detail in str(body.get("detail")), body


@pytest.mark.browser
def test_a_busy_exporter_answers_503_with_retry_after(live_server: LiveServer) -> None:
    url = f"{live_server.url}/api/briefing.png?size=3840x2160"

    def one() -> tuple[int, str | None]:
        try:
            _get(url)
            return 200, None
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Retry-After")

    def burst() -> list[tuple[int, str | None]] | None:
        with cf.ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda _: one(), range(4)))
        return got if any(code == 503 for code, _ in got) else None

    got = wait_for(burst, 120, poll=0.5, message="four briefings at once: the queue is full for some")
    assert {code for code, _ in got} == {200, 503}, got
    assert all(retry and int(retry) > 0 for code, retry in got if code == 503)


def test_an_unknown_language_is_refused(live_server: LiveServer) -> None:
    assert _code(f"{live_server.url}/api/briefing.png?lang=fr")[0] == 422


def test_a_pdf_only_in_a4(live_server: LiveServer) -> None:
    got, body, _ = _code(f"{live_server.url}/api/briefing.pdf?size=1920x1080")
    assert got == 422 and "PDF is offered for size a4 only" in body["detail"]


@pytest.mark.browser
def test_a_read_key_gets_masked_briefings_of_its_areas_only(live_server: LiveServer) -> None:
    areas = _areas(live_server)
    tree = json.loads(_get(live_server.url + "/api/areas")[0])["areas"]
    communities = [a["ref"] for a in tree if a["kind"] == "community"]
    mine, other = communities[0], communities[1]
    key = api_key(live_server.client, live_server.keys, "briefing-reader", "read", (mine,))
    auth = {"Authorization": f"Bearer {key}"}
    anon = anonymous_opener()
    data, _ = _get(f"{live_server.url}/api/briefing.png?area={mine}", auth, anon)
    assert png_size(data) == (1920, 1080)
    pdf, _ = _get(f"{live_server.url}/api/briefing.pdf", auth, anon)  # default: the key's own area
    assert pdf.startswith(b"%PDF")
    assert f"briefing.zh.a={mine}.in={mine}.m" in _health(live_server)["contexts"]  # masked, confined
    got, body, _ = _code(f"{live_server.url}/api/briefing.png?area={other}", headers=auth, opener=anon)
    assert got == 403 and "outside your areas" in body["detail"]
    got, _, _ = _code(f"{live_server.url}/api/briefing.png?area={areas['street']['ref']}", headers=auth, opener=anon)
    assert got == 403


def test_missing_chromium_is_a_503_with_what_to_install(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"ONESCREEN_CHROMIUM": "/nonexistent/chromium", "ONESCREEN_BRIEFING_WARM": "1"}
    with spawn_server(redis_url, tmp_path_factory.mktemp("nochrome"), env=env) as server:
        for path in ("/api/briefing.png", "/api/briefing.pdf"):
            got, body, _ = _code(server.url + path)
            assert got == 503
            assert body["detail"].count("\n") == 0 and "/nonexistent/chromium" in body["detail"]
            assert "apt-get install chromium fonts-noto-cjk" in body["detail"]
        assert "Traceback" not in server.log()
        assert "apt-get install chromium fonts-noto-cjk" in server.log()  # said once at start (warm-up)


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


@pytest.mark.browser
def test_the_briefing_button_downloads_from_the_page(browser: Any, live_server: LiveServer) -> None:
    comm = _areas(live_server)["community"]
    at = "2026-11-30T09:00+08:00"
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/?area={comm['ref']}&at={urllib.parse.quote(at)}")
        wait_until_live(page)
        link = page.locator("#briefing-download")
        assert not link.is_visible()  # the menu is closed
        page.click("#briefing-button")
        page.get_by_text("A4 PDF").click()
        page.locator("#briefing-watermark input").check()
        wait_for(
            lambda: "watermark=1" in (link.get_attribute("href") or "") or None,
            10,
            message=lambda: f"the link follows the menu: {link.get_attribute('href')}",
        )
        href = link.get_attribute("href") or ""
        assert href.startswith("/api/briefing.pdf?")
        query = urllib.parse.parse_qs(href.split("?", 1)[1])
        assert query["area"] == [comm["ref"]] and query["size"] == ["a4"]
        assert datetime.fromisoformat(query["at"][0]) == datetime.fromisoformat(at)  # the page's very moment
        with page.expect_download(timeout=120_000) as info:
            link.click()
        download = info.value
        data = Path(download.path()).read_bytes()
        assert data.startswith(b"%PDF") and _pdf_pages(data) == 1
        assert download.suggested_filename.endswith("-20261130-0900-A4.pdf")
        assert comm["name"] in download.suggested_filename
        page.get_by_text("3840×2160").click()
        wait_for(lambda: "size=3840x2160" in (link.get_attribute("href") or "") or None, 10)
        with page.expect_download(timeout=120_000) as info:
            link.click()
        png = Path(info.value.path()).read_bytes()
        assert struct.unpack(">II", png[16:24]) == (3840, 2160)
        page.click("#console-title")  # a click elsewhere shuts the menu, as menus do
        link.wait_for(state="hidden", timeout=10_000)
        page.click("#briefing-button")
        link.wait_for(state="visible", timeout=10_000)
        page.keyboard.press("Escape")
        link.wait_for(state="hidden", timeout=10_000)
    finally:
        context.close()
