"""`onescreen validate CONFIG|PATH [--json] [--fix OUT]`: the report an office reads before go-live.

The report goes to stdout (text, or JSON with ``--json``); the exit status is 1 when it has errors (warnings do not
fail). With ``--fix OUT`` the repaired copy is written, every change listed, the copy validated again, and the exit
status is that of the copy. Unreadable input (no such file, a broken config) is a message on stderr, status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pyogrio.errors import DataSourceError

from geo.config import ConfigError
from geo.repair import repair, write_repaired
from geo.report import Report, validate
from geo.sources import resolve_config


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
    progress = sys.stderr.isatty()
    try:
        config = resolve_config(target, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint, layer=layer)
    except FileNotFoundError:
        print(f"{target}: no such file or folder", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except DataSourceError as exc:
        print(f"{target}: not a readable GeoPackage, data file, folder or onescreen.toml ({exc})", file=sys.stderr)
        return 1
    report = validate(config, progress=progress)
    out: dict[str, Any] = report.to_json()
    text = [report.to_text()]
    status = 0 if report.ok else 1
    if fix is not None and report.dataset is not None and report.dataset.provided:
        frames, changes = repair(report.dataset)
        try:
            write_repaired(frames, fix)
        except ValueError as exc:
            print(f"--fix: {exc}", file=sys.stderr)
            return 1
        fixed_layer = next(iter(frames)) if fix.suffix.lower() != ".gpkg" else None
        after: Report = validate(resolve_config(fix, layer=fixed_layer), progress=progress)
        out["fix"] = {"out": str(fix), "changes": [c.to_dict() for c in changes], "after": after.to_json()}
        text.append(f"FIXED → {fix} ({len(changes)} change(s))")
        text += [f"    {c}" for c in changes]
        text.append("AFTER --fix: " + after.to_text(notes=False).replace("\n", "\n  "))
        status = 0 if after.ok else 1
    print(json.dumps(out, ensure_ascii=False, indent=2) if as_json else "\n".join(text))
    return status
