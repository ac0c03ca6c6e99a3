"""Where the tests find the checkout and the files beside it."""

from __future__ import annotations

from pathlib import Path

from onescreen_data import demo_data_path

REPO = Path(__file__).resolve().parents[2]  # the checkout: subprocesses run here so they import this code
# Real public files with real quirks (../shared/realdata, see its SOURCES.md): beside the clone, in CI too.
REALDATA = REPO.parent / "shared" / "realdata"
ZJ_GRIDS = REALDATA / "zj_grids"
OPEN311 = REALDATA / "open311"
# Inputs as other people's tools produce them (../shared/field-cases/README.md says what is expected of each).
FIELD_CASES = REPO.parent / "shared" / "field-cases"
DEMO_GPKG = demo_data_path()  # the committed demo set, as the installed package finds it


def read_shared(path: Path) -> bytes:
    """A file of ../shared, read when the test runs: a developer's clone without ../shared skips (CI refuses that)."""
    import pytest

    if not path.is_file():
        pytest.skip(f"{path} missing (the shared folder beside the checkout)")
    return path.read_bytes()
