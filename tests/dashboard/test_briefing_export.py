"""The one briefing composition (``dashboard.briefing_export``): sizes, names not ids, masking, the watermark, file
names, the warm exporter's queue/timeout/restart, missing Chromium or fonts, and the rolling archive."""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest
import redis

from dashboard import briefing_export as bx
from dashboard.briefing_api import parse_at_param
from dashboard.figures.briefing import A4, LANDSCAPE, WATERMARK, build_briefing, title_size
from dashboard.figures.incident_map import STATUS_COLORS, STATUS_COLORS_LIGHT, grid_fill_z
from dashboard.figures.sample import sample_base, sample_grid_states, sample_incidents, sample_kpis
from dashboard.layouts.briefing_menu import briefing_href
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import DEFAULT_DATA, Settings
from dashboard.snapshot import SnapshotBusy, SnapshotError, Snapshotter, missing_render_deps, png_size
from geo.layers import read_layers
from incidents.keys import Keys
from incidents.publish import publish
from tests.support.paths import REPO
from tests.support.wait import wait_for

NOW = 1_764_560_000.0  # 2025-12-01 11:33 Beijing time


def _sample(page: object = LANDSCAPE, **kw: object) -> go.Figure:
    base = sample_base()
    inc = sample_incidents(now=NOW)
    z = grid_fill_z(base.grid_ids, sample_grid_states(inc, base.grid_ids))
    return build_briefing(base, z, inc, sample_kpis(inc), street_name="翠苑街道", now=NOW, page=page, **kw)  # type: ignore[arg-type]


def _texts(fig: go.Figure) -> str:
    return "\n".join(a.text or "" for a in fig.layout.annotations)


# ---- sizes, names, watermark (pure) ----


def test_sizes_and_their_pixels() -> None:
    assert bx.parse_size(None).key == "1920x1080"
    assert bx.parse_size("1920×1080").pixels() == (1920, 1080)
    assert bx.parse_size("4K").pixels() == bx.parse_size("3840x2160").pixels() == (3840, 2160)
    assert bx.parse_size("A4").pixels() == (2480, 3508)  # 300 dpi
    assert bx.parse_size("a4").formats == ("png", "pdf")
    assert round(A4.w * bx.SIZES["a4"].scale("pdf"), 1) == 793.7  # 210 mm at 96 px/in: the PDF page is A4
    with pytest.raises(ValueError, match="use one of 1920x1080, 3840x2160, a4"):
        bx.parse_size("800x600")
    with pytest.raises(ValueError, match="PDF is offered for size a4 only"):
        bx.BriefingSpec(size=bx.SIZES["3840x2160"], fmt="pdf")


def test_a4_is_its_own_portrait_layout_not_a_squashed_landscape() -> None:
    land, a4 = _sample(LANDSCAPE), _sample(A4)
    assert (land.layout.width, land.layout.height) == (1920, 1080)
    assert (a4.layout.width, a4.layout.height) == (1240, 1754)
    # map on top, the KPI cards in two rows, trend and categories side by side, the overdue list below
    assert a4.layout.yaxis.domain[0] > a4.layout.yaxis2.domain[1]
    assert a4.layout.xaxis2.domain[1] < a4.layout.xaxis3.domain[0]
    assert a4.layout.yaxis2.domain == pytest.approx(a4.layout.yaxis2.domain)
    kpi_rows = {round(s.y0, 3) for s in a4.layout.shapes if s.fillcolor == A4.ink.card}
    assert len(kpi_rows) == 2
    assert land.layout.xaxis2.domain[0] > land.layout.xaxis.domain[1]  # landscape: side panels right of the map


def _luminance(color: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    rgb = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a4_is_dark_ink_on_white_paper_and_the_screen_sizes_keep_the_walls_theme() -> None:
    land, a4 = _sample(LANDSCAPE), _sample(A4)
    assert (land.layout.meta["ink"], a4.layout.meta["ink"]) == ("screen", "paper")
    assert a4.layout.paper_bgcolor == "#ffffff" and land.layout.paper_bgcolor == LANDSCAPE.ink.bg
    for ink in (LANDSCAPE.ink, A4.ink):  # WCAG AA for body text, on the page and on a KPI card
        assert _contrast(ink.text, ink.bg) >= 4.5 and _contrast(ink.text_dim, ink.bg) >= 4.5, ink.name
        assert _contrast(ink.text_strong, ink.header) >= 4.5, ink.name
        assert all(_contrast(c, ink.card if ink.name == "paper" else ink.bg) >= 3 for c in ink.severity.values())
    # the markers on paper are the deeper hues the light console uses (the pale wall yellow vanishes on white)
    drawn = {t.marker.color for t in a4.data if t.type == "scatter" and t.mode == "markers"}
    assert STATUS_COLORS_LIGHT["reported"] in drawn and STATUS_COLORS["reported"] not in drawn


def test_a_long_area_title_shrinks_to_fit_the_page() -> None:
    long = "澜湾街道 › 港洲社区 › 桥墩出租房集中区专属网格态势回溯 · 2026年12月1日 17:01"
    assert title_size("翠苑街道基层治理态势简报", A4.w - 48) == 40
    size = title_size(long, A4.w - 48)
    assert 22 <= size < 40 and sum(1 if ord(c) > 0x2E80 else 0.6 for c in long) * size <= A4.w - 48
    base = sample_base()
    fig = build_briefing(base, [], None, None, street_name=long, now=NOW, page=A4)
    assert fig.layout.title.font.size < 40


def test_the_overdue_list_names_grids_and_assignees_never_ids() -> None:
    base = sample_base()
    inc = sample_incidents(now=NOW)
    overdue = inc[inc["overdue"].astype(bool)]
    names = {str(a): "张*明" for a in overdue["assignee"]}
    text = _texts(_sample(assignees=names))
    assert "张*明" in text
    listed = text[text.index("●") :]
    lines = listed.split("<br>")
    assert len(lines) == LANDSCAPE.overdue_rows
    assert all(any(n in line for n in base.grid_name_by_id.values()) for line in lines), lines
    assert not re.search(r"\bG\d{3}\b", listed) and not re.search(r"\bM\d{4}\b", listed), listed


def test_the_watermark_only_when_asked() -> None:
    assert not [a for a in _sample().layout.annotations if a.name == WATERMARK]
    for lang, word in (("zh", "内部资料"), ("en", "INTERNAL")):
        fig = _sample(watermark=True, lang=lang)
        marks = [a for a in fig.layout.annotations if a.name == WATERMARK]
        assert len(marks) >= 4 and all(word in a.text and a.textangle == -30 for a in marks)
        assert all("rgba(255,255,255,0.1" in a.font.color for a in marks)  # semi-transparent


def test_file_names_are_ascii_with_a_utf8_twin() -> None:
    spec = bx.BriefingSpec(size=bx.SIZES["a4"], fmt="pdf")
    ascii_name, utf8_name = bx.filenames("community:C003", "霞庭村", NOW, spec)
    assert ascii_name == "briefing-community-C003-20251201-1133-a4.pdf"
    assert utf8_name == "简报-霞庭村-20251201-1133-A4.pdf"
    header = bx.content_disposition(ascii_name, utf8_name)
    assert header.isascii()
    assert header.startswith('attachment; filename="briefing-community-C003-')
    assert "filename*=UTF-8''%E7%AE%80%E6%8A%A5-%E9%9C%9E%E5%BA%AD%E6%9D%91-" in header


def test_the_buttons_link_follows_the_pages_area_and_moment() -> None:
    href = briefing_href("?area=community:C003&at=2026-12-01T09:00%2B08:00&lang=zh", "a4pdf", True, "zh")
    assert href.startswith("/api/briefing.pdf?")
    assert "area=community%3AC003" in href and "at=2026-12-01T09%3A00%2B08%3A00" in href
    assert "size=a4" in href and "watermark=1" in href
    plain = briefing_href("", "3840x2160", False, "en")
    assert plain == "/api/briefing.png?size=3840x2160&lang=en"
    # the moment the page shows wins over the URL's (a playing scrubber moves the address bar behind Dash's back)
    played = briefing_href("?area=community:C003&at=2026-12-01T09:00%2B08:00", "a4pdf", False, "zh", shown=NOW)
    assert "at=2025-12-01T11%3A33%3A20%2B08%3A00" in played and "area=community%3AC003" in played
    live = briefing_href("?area=community:C003&at=2026-12-01T09:00%2B08:00", "a4pdf", False, "zh", shown=None)
    assert "at=" not in live and "area=community%3AC003" in live


def test_at_in_a_url_keeps_its_offset() -> None:
    now = 1_800_000_000.0
    assert parse_at_param("2026-12-01T09:00 08:00", now) == parse_at_param("2026-12-01T09:00+08:00", now)
    assert parse_at_param("", now) is None
    with pytest.raises(ValueError, match="in the future"):
        parse_at_param(str(now + 3600), now)
    with pytest.raises(ValueError, match="not a time"):
        parse_at_param("yesterday", now)


def test_durations_and_archive_names() -> None:
    assert bx.parse_every("1h") == 3600 and bx.parse_every("15m") == 900 and bx.parse_every("2") == 2
    with pytest.raises(ValueError):
        bx.parse_every("0s")
    assert bx.archive_name(NOW, "png") == "briefing-20251201-113320.png"


# ---- the composition on a real runtime (Redis, demo data) ----


@pytest.fixture
def seeded(r: redis.Redis, keys: Keys, redis_url: str) -> Iterator[tuple[Runtime, str, str]]:
    """A runtime over one overdue incident assigned to a real member: (runtime, member id, member name)."""
    members = read_layers(DEFAULT_DATA).members
    member_id, name = str(members["member_id"].iloc[0]), str(members["name"].iloc[0])
    grids = read_layers(DEFAULT_DATA).grids
    pt = grids.geometry.representative_point().iloc[0]
    t0 = time.time() - 2 * 86400  # two days old and still dispatched: overdue under any SLA
    publish(r, keys, {"id": "B1", "status": "reported", "ts": t0, "lon": pt.x, "lat": pt.y, "category": "environment",
                      "title": "堆物 13812345678"})  # fmt: skip
    publish(r, keys, {"id": "B1", "status": "dispatched", "ts": t0 + 60, "assignee": member_id})
    rt = build_runtime(Settings.from_env(redis_prefix=keys.prefix), redis_url)
    rt.load_state_once()
    yield rt, member_id, name
    rt.stop()


def test_compose_masks_by_role_and_names_the_area(seeded: tuple[Runtime, str, str]) -> None:
    runtime, member_id, name = seeded
    tree = runtime.geo.areas
    community = next(a for a in tree.areas.values() if a.kind == "community")
    shown = _texts(bx.compose(runtime, bx.BriefingSpec(masked=False)))
    hidden = _texts(bx.compose(runtime, bx.BriefingSpec(masked=True)))
    assert name in shown and "13812345678" in shown
    assert name not in hidden and name[0] + "*" in hidden and "13812345678" not in hidden
    assert member_id not in shown and member_id not in hidden  # names, never ids
    fig = bx.compose(runtime, bx.BriefingSpec(area=community.ref, size=bx.SIZES["a4"], watermark=True))
    assert community.name in fig.layout.title.text and fig.layout.height == 1754
    assert [a for a in fig.layout.annotations if a.name == WATERMARK]
    past = bx.compose(runtime, bx.BriefingSpec(at=time.time() - 3 * 86400))  # before B1: nothing overdue
    assert "态势回溯" in past.layout.title.text and "堆物" not in _texts(past)


def test_each_archive_round_draws_the_state_it_reloaded(
    seeded: tuple[Runtime, str, str], r: redis.Redis, keys: Keys
) -> None:
    runtime = seeded[0]
    spec = bx.BriefingSpec()
    assert "漏水" not in _texts(bx.compose(runtime, spec, bx.frames_now(runtime)))
    pt = read_layers(DEFAULT_DATA).grids.geometry.representative_point().iloc[1]
    t0 = time.time() - 86400
    publish(r, keys, {"id": "B2", "status": "reported", "ts": t0, "lon": pt.x, "lat": pt.y, "category": "environment",
                      "title": "漏水"})  # fmt: skip
    runtime.load_state_once()  # what run_archive does each round
    assert "漏水" in _texts(bx.compose(runtime, spec, bx.frames_now(runtime)))


# ---- missing Chromium or fonts: one line ----


def _empty_fontconfig(tmp_path: Path) -> Path:
    (tmp_path / "nofonts").mkdir(exist_ok=True)
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<?xml version='1.0'?><fontconfig><dir>{tmp_path / 'nofonts'}</dir></fontconfig>")
    return conf


def test_missing_chromium_or_fonts_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert missing_render_deps() is None
    monkeypatch.setenv("ONESCREEN_CHROMIUM", "/nonexistent/chromium")
    line = missing_render_deps()
    assert line is not None and "\n" not in line
    assert "/nonexistent/chromium" in line and "apt-get install chromium fonts-noto-cjk" in line
    monkeypatch.delenv("ONESCREEN_CHROMIUM")
    monkeypatch.setenv("FONTCONFIG_FILE", str(_empty_fontconfig(tmp_path)))
    line = missing_render_deps()
    assert line is not None and "no font covering Chinese" in line and "fonts-noto-cjk" in line


@pytest.mark.parametrize("env", ["chromium", "fonts"])
def test_the_cli_says_what_to_install_and_exits_2(env: str, redis_url: str, tmp_path: Path) -> None:
    extra = (
        {"ONESCREEN_CHROMIUM": "/nonexistent/chromium"}
        if env == "chromium"
        else {"FONTCONFIG_FILE": str(_empty_fontconfig(tmp_path))}
    )
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "snapshot", "--out", str(tmp_path / "b.png")],
        cwd=REPO,
        env={**os.environ, "REDIS_URL": redis_url, **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "install: apt-get install chromium fonts-noto-cjk" in lines[0], proc.stderr
    assert not (tmp_path / "b.png").exists()


# ---- the warm exporter: queue, timeout, restart ----


@pytest.fixture(scope="module")
def snap() -> Iterator[Snapshotter]:
    s = Snapshotter(max_pending=0, render_timeout=30)
    s.wait_ready(60)
    yield s
    s.close()


@pytest.mark.browser
def test_a_busy_exporter_refuses_at_once(snap: Snapshotter) -> None:
    fig = _sample()
    with cf.ThreadPoolExecutor(1) as pool:
        first = pool.submit(snap.render, fig, None, 3840, 2160)
        wait_for(lambda: snap.pending >= 1 or None, 5, message="the first render is under way")
        with pytest.raises(SnapshotBusy):
            snap.render(fig, None, 640, 360)
        assert png_size(first.result(60)) == (3840, 2160)
    wait_for(lambda: snap.pending == 0 or None, 5, message="the queue drained")


@pytest.mark.browser
def test_a_timeout_or_a_dead_browser_gives_a_fresh_one(snap: Snapshotter) -> None:
    fig = _sample()
    restarts = snap.restarts
    snap.render_timeout = 0.001
    try:
        with pytest.raises(SnapshotError, match="timed out"):
            snap.render(fig)
    finally:
        snap.render_timeout = 30
    assert snap.restarts == restarts + 1
    assert png_size(snap.render(fig, None, 640, 360)) == (640, 360)  # a new browser
    pid = snap.browser_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "zombie" in _proc_state(pid) or None, 10)
    assert png_size(snap.render(fig, None, 640, 360)) == (640, 360)
    assert snap.browser_pid != pid


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


@pytest.mark.browser
def test_pdf_is_one_a4_page(snap: Snapshotter) -> None:
    spec = bx.BriefingSpec(size=bx.SIZES["a4"], fmt="pdf")
    data = bx.render(_sample(A4), spec, snap)
    assert data.startswith(b"%PDF")
    box = [float(v) for v in re.search(rb"/MediaBox \[([\d. ]+)\]", data).group(1).split()]  # type: ignore[union-attr]
    assert box[2] == pytest.approx(595.3, abs=1.5) and box[3] == pytest.approx(841.9, abs=1.5)  # A4 in pt


# ---- the rolling archive ----


@pytest.mark.browser
def test_run_archive_keeps_the_newest_and_survives_a_failed_round(
    seeded: tuple[Runtime, str, str], tmp_path: Path
) -> None:
    runtime = seeded[0]
    stop = threading.Event()
    said: list[str] = []
    with Snapshotter(render_timeout=0.001) as s:  # the first rounds time out…

        def say(line: str) -> None:
            said.append(line)
            if "failed" in line:
                s.render_timeout = 30  # …then the exporter is given time: the loop must carry on
            if sum("wrote" in x for x in said) >= 3:
                stop.set()

        spec = bx.BriefingSpec(size=bx.SIZES["1920x1080"])
        written = bx.run_archive(runtime, spec, tmp_path, every_s=0.2, keep=2, stop=stop, snapshotter=s, say=say)
    assert written == 3
    assert "failed" in said[0] and "\n" not in said[0]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(bx.ARCHIVE_RE.match(f) for f in files), files


@pytest.mark.browser
@pytest.mark.slow
def test_snapshot_every_is_a_rolling_archive_ended_by_ctrl_c(
    r: redis.Redis, keys: Keys, redis_url: str, tmp_path: Path
) -> None:
    out, log_path = tmp_path / "archive", tmp_path / "archive.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "snapshot", "--every", "1s", "--keep", "2", "--out", str(out),
             "--size", "a4", "--watermark"],
            cwd=REPO, env={**os.environ, "REDIS_URL": redis_url, "ONESCREEN_PREFIX": keys.prefix},
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(
            lambda: log_path.read_text().count("wrote ") >= 3 or None,
            120,
            message=lambda: f"three rounds written; log:\n{log_path.read_text()}",
            abort=lambda: None if proc.poll() is None else f"exited {proc.returncode}: {log_path.read_text()}",
        )
        files = sorted(p.name for p in out.iterdir())
        assert len(files) == 2 and all(re.fullmatch(r"briefing-\d{8}-\d{6}\.png", f) for f in files), files
        assert png_size((out / files[-1]).read_bytes()) == (2480, 3508)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    text = log_path.read_text()
    assert "stopped after" in text and "Traceback" not in text, text
