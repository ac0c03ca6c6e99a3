"""The geo commands of the ``onescreen`` CLI (``dashboard.cli`` parses the arguments and dispatches here).

``onescreen validate CONFIG|PATH [--json] [--fix OUT]`` — the report an office reads before go-live. The report goes
to stdout (text, or JSON with ``--json``); the exit status is 1 when it has errors (warnings do not fail). With
``--fix OUT`` the repaired copy is written, every change listed, the copy validated again, and the exit status is
that of the copy. Unreadable input (no such file, a broken config) is a message on stderr, status 1.

``onescreen generate-data --out DIR --seed N [--scale city]`` — the deterministic synthetic data set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pyogrio.errors import DataSourceError

from geo.config import Config, ConfigError
from geo.repair import repair, write_repaired
from geo.report import Report, validate
from geo.sources import resolve_config
from geo.synthetic import generate

__all__ = ["run_generate_data", "run_validate"]


def run_validate(
    target: Path,
    *,
    as_json: bool = False,
    fix: Path | None = None,
    encoding: str | None = None,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
    layer: str | None = None,
) -> int:
    """``onescreen validate``: print the report of ``target`` (onescreen.toml, GeoPackage, folder or one file)
    and, with ``fix``, write and re-check a repaired copy. Returns the exit status: 0 no errors, 1 errors or
    unreadable input (said on stderr). The keyword options are the CLI's (see ``geo.sources.resolve_config``)."""
    progress = sys.stderr.isatty()
    config = _config_or_none(target, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint, layer=layer)
    if config is None:
        return 1
    report = validate(config, progress=progress)
    out: dict[str, Any] = report.to_json()
    text = [report.to_text()]
    status = 0 if report.ok else 1
    if fix is not None and report.dataset is not None and report.dataset.provided:
        fixed = _fix(report, fix, progress)
        if fixed is None:
            return 1
        out["fix"], more, status = fixed
        text += more
    print(json.dumps(out, ensure_ascii=False, indent=2) if as_json else "\n".join(text))
    return status


def _config_or_none(
    target: Path, *, encoding: str | None, assume_crs: str | None, crs_hint: str | None, layer: str | None
) -> Config | None:
    """The config for ``target``, or ``None`` after saying on stderr why there is none."""
    try:
        return resolve_config(target, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint, layer=layer)
    except FileNotFoundError:
        print(f"{target}: no such file or folder", file=sys.stderr)
    except ConfigError as exc:
        print(f"{exc}", file=sys.stderr)
    except DataSourceError as exc:
        print(f"{target}: not a readable GeoPackage, data file, folder or onescreen.toml ({exc})", file=sys.stderr)
    return None


def _fix(report: Report, fix: Path, progress: bool) -> tuple[dict[str, Any], list[str], int] | None:
    """Repair, write to ``fix`` and validate the copy: (JSON part, text lines, exit status), or ``None`` after
    saying on stderr why nothing could be written."""
    assert report.dataset is not None
    frames, changes = repair(report.dataset)
    try:
        write_repaired(frames, fix)
    except ValueError as exc:
        print(f"--fix: {exc}", file=sys.stderr)
        return None
    fixed_layer = next(iter(frames)) if fix.suffix.lower() != ".gpkg" else None
    after: Report = validate(resolve_config(fix, layer=fixed_layer), progress=progress)
    part = {"out": str(fix), "changes": [c.to_dict() for c in changes], "after": after.to_json()}
    text = [f"FIXED → {fix} ({len(changes)} change(s))", *[f"    {c}" for c in changes]]
    text.append("AFTER --fix: " + after.to_text(notes=False).replace("\n", "\n  "))
    return part, text, 0 if after.ok else 1


def run_generate_data(
    out: Path, *, seed: int, scale: str = "demo", grids: int | None = None, members: int | None = None
) -> int:
    """``onescreen generate-data``: write the synthetic GeoPackage into folder ``out`` (``geo.synthetic.generate``;
    ``scale`` ``demo``/``city``, ``grids``/``members`` override its counts) and print where. Returns 0."""
    path = generate(out, seed=seed, scale=scale, grids=grids, members=members)
    print(f"wrote {path}")
    return 0
