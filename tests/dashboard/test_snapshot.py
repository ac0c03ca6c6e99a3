from __future__ import annotations

import concurrent.futures as cf
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest

from dashboard import snapshot
from dashboard.figures.briefing import HEIGHT, WIDTH, build_briefing
from dashboard.figures.incident_map import grid_fill_z
from dashboard.figures.sample import sample_base, sample_grid_states, sample_incidents, sample_kpis
from tests.support.wait import wait_for

NOW = 1_750_000_000.0  # 2025-06-15 23:06:40 Asia/Shanghai
STREET = "翠苑街道"


def png_ihdr(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


@pytest.fixture(scope="module")
def fig() -> go.Figure:
    base = sample_base()
    inc = sample_incidents(now=NOW)
    return build_briefing(
        base,
        grid_fill_z(base.grid_ids, sample_grid_states(inc, base.grid_ids)),
        inc,
        sample_kpis(inc),
        street_name=STREET,
        now=NOW,
    )


def test_briefing_figure_is_pure_svg_with_title(fig: go.Figure) -> None:
    assert (fig.layout.width, fig.layout.height) == (WIDTH, HEIGHT) == (1920, 1080)
    assert STREET in fig.layout.title.text and "态势简报" in fig.layout.title.text
    types = {tr.type for tr in fig.data}
    assert types <= {"scatter", "bar"}  # no WebGL / MapLibre traces
    assert "Noto Sans CJK SC" in fig.layout.font.family
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio > 1
    stamp = " ".join(a.text for a in fig.layout.annotations)
    assert "2025年6月15日 23:06" in stamp  # Asia/Shanghai
    assert "http" not in fig.to_json()


def test_briefing_english_and_empty_inputs() -> None:
    base = sample_base()
    fig = build_briefing(base, [], None, None, street_name="Cuiyuan", now=NOW, lang="en")
    assert "Cuiyuan" in fig.layout.title.text
    assert any("None" in (a.text or "") for a in fig.layout.annotations)


def test_chromium_is_found_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONESCREEN_CHROMIUM", raising=False)
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert snapshot.find_chromium() == "/usr/bin/chromium"
    opts = snapshot.kaleido_options()
    assert opts["path"] == "/usr/bin/chromium" and opts["mathjax"] is False
    monkeypatch.setenv("ONESCREEN_CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(snapshot.SnapshotError, match="ONESCREEN_CHROMIUM=/nonexistent/chrome"):
        snapshot.find_chromium()  # an explicit choice that does not exist is an error, never another browser


@pytest.mark.browser
@pytest.mark.slow
def test_render_png_writes_1920x1080(fig: go.Figure, tmp_path: Path) -> None:
    out = tmp_path / "briefing.png"
    data = snapshot.render_png(fig, out)
    assert out.read_bytes() == data
    assert png_ihdr(data) == (1920, 1080) == snapshot.png_size(data)
    assert len(data) > 50_000  # a real picture, not a blank page


def _our_chromiums() -> dict[int, str]:
    """This process's Chromium children (pid → their ``--user-data-dir``), read from /proc."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        dirs = [a[len(b"--user-data-dir=") :].decode() for a in args if a.startswith(b"--user-data-dir=")]
        if ppid == os.getpid() and dirs:
            found[int(d.name)] = dirs[0]
    return found


@pytest.mark.browser
def test_a_stop_during_the_warm_up_closes_the_browser_being_opened() -> None:
    """A server stopped seconds after its start (Ctrl-C on the demo) while the exporter's browser is still opening:
    that browser is closed and its profile folder removed (left to the interpreter's exit, the folder was removed
    while Chromium still wrote to it: a traceback on stopping)."""
    before = _our_chromiums()
    s = snapshot.Snapshotter()
    s.start()
    opened = wait_for(lambda: dict(_our_chromiums().items() - before.items()) or None, 60, 0.02, "a Chromium")
    s.close()
    wait_for(lambda: not set(opened) & set(_our_chromiums()), 20, 0.1, "the Chromium being opened to end")
    assert not any(Path(d).exists() for d in opened.values()), opened


@pytest.fixture(scope="module")
def warm() -> Iterator[snapshot.Snapshotter]:
    s = snapshot.Snapshotter()
    s.start()
    yield s
    s.close()


@pytest.mark.browser
@pytest.mark.slow
def test_snapshotter_warm_and_concurrent(warm: snapshot.Snapshotter, fig: go.Figure) -> None:
    assert warm.chromium == "/usr/bin/chromium"
    warm.wait_ready(60)
    t0 = time.perf_counter()
    data = warm.render(fig)
    warm_s = time.perf_counter() - t0
    assert png_ihdr(data) == (1920, 1080)
    assert warm_s < 3.0, warm_s  # ~0.25 s here; generous for loaded CI machines
    sizes = [(1920, 1080), (1280, 720), (1920, 1080), (800, 450)]
    with cf.ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda wh: png_ihdr(warm.render(fig, None, *wh)), sizes))
    assert got == sizes  # each caller gets its own image


async def _render_async(warm: snapshot.Snapshotter, fig: go.Figure) -> bytes:
    return await warm.render_async(fig, 640, 360)


@pytest.mark.browser
@pytest.mark.slow
def test_snapshotter_async(warm: snapshot.Snapshotter, fig: go.Figure) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    # A thread of its own: Playwright's sync API (the screen tests) leaves an event loop running here.
    with ThreadPoolExecutor(1) as pool:
        png = pool.submit(asyncio.run, _render_async(warm, fig)).result(timeout=60)
    assert png_ihdr(png) == (640, 360)
