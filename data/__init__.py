"""``onescreen_data``: the data onescreen ships — the demo GeoPackage in ``demo/`` (see README.md here).

This folder is the package ``onescreen_data`` (pyproject maps it: ``package-dir``), so the wheel carries the demo
data and code finds it with ``importlib.resources`` wherever the package is installed, never through a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEMO_GPKG_NAME = "onescreen_demo.gpkg"


def demo_data_path() -> Path:
    """Absolute path of the installed demo GeoPackage (``…/onescreen_data/demo/onescreen_demo.gpkg``).

    The file is not opened here (reading it reports a missing file with its path). ``RuntimeError`` if the
    package is not on the file system (e.g. imported from a zip): GDAL can only read a real file.
    """
    resource = files(__name__).joinpath("demo", DEMO_GPKG_NAME)
    if not isinstance(resource, Path):
        raise RuntimeError(f"onescreen_data is not installed as files ({resource!r}): install the wheel unzipped")
    return resource
