"""Where the tests find the checkout and the files beside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: subprocesses run here so they import this code
# Real public files with real quirks (../shared/realdata, see its SOURCES.md): beside the clone, in CI too.
REALDATA = REPO.parent / "shared" / "realdata"
ZJ_GRIDS = REALDATA / "zj_grids"
OPEN311 = REALDATA / "open311"
DEMO_GPKG = REPO / "data" / "demo" / "onescreen_demo.gpkg"  # the committed demo set
